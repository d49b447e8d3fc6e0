package identity

import "time"

// Principal is who a verified token speaks for.
//
// A user token has a Subject (and, when the token names it, the ClientID of the application the user signed in
// with). A machine token, from the client credentials grant, has an empty Subject and a ClientID; see the package
// documentation for the rule. A Principal may be shared between callers (Verify caches it): treat it, its slices
// and its Claims as read-only.
type Principal struct {
	// Issuer is the token's "iss".
	Issuer string
	// Subject identifies the user; empty for a machine token.
	Subject string
	// ClientID identifies the OAuth client.
	ClientID string
	// Groups from the issuer's group claim paths, merged without duplicates.
	Groups []string
	// Scopes granted to the token.
	Scopes []string
	// Claims is the whole verified payload.
	Claims map[string]any
	// Expiry is the token's "exp".
	Expiry time.Time
}

// IsMachine reports whether the principal is a client acting for itself rather than a user.
func (p Principal) IsMachine() bool { return p.Subject == "" && p.ClientID != "" }
