package identity

import "time"

// Principal is who a verified token speaks for.
//
// Exactly one of Subject and ClientID is set: a user token has a Subject, a machine token (client credentials) has
// a ClientID; see the package documentation for the rule. Policies can therefore grant by client id without a user
// ever inheriting a machine's grants by signing in through the same OAuth client. The client a token was issued to
// is in AuthorizedParty for users and machines alike (for audit and per-application rules).
//
// A Principal may be shared between callers (Verify caches it): treat it, its slices and its Claims as read-only.
type Principal struct {
	// Issuer is the token's "iss".
	Issuer string
	// Subject identifies the user; empty for a machine token.
	Subject string
	// ClientID identifies a machine client; empty for a user.
	ClientID string
	// AuthorizedParty is the OAuth client the token was issued to, for users and machines; empty when the token
	// names none.
	AuthorizedParty string
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
