// Package identity turns a bearer token into a Principal: it validates JWT access tokens issued by any number of
// configured OIDC issuers at once, and it provides the built-in development issuer.
//
// # Verification
//
// A Verifier holds one entry per configured issuer. For each token it
//
//  1. splits the compact JWS and rejects, before any key is looked at, the algorithms that are never acceptable
//     ("none" and every HMAC algorithm: a verifier that only has public keys must never treat one as a shared
//     secret) and any "crit" header (no extension is understood);
//  2. reads the unverified "iss" claim to select the issuer (an issuer that is not configured is ErrUnknownIssuer),
//     then checks the algorithm against that issuer's allowed list;
//  3. finds the key by "kid" in the issuer's cached JWKS; an unknown kid triggers one refresh of the key set,
//     rate-limited per issuer (IssuerConfig.MinRefreshInterval, 10 s by default), so a rotation at the issuer is
//     picked up without a restart while a flood of forged kids cannot make the verifier hammer the issuer;
//  4. verifies the signature with jwx v2 and only then trusts the claims: exp (required), nbf and iat with the
//     issuer's clock skew, and the audience claim ("aud" unless IssuerConfig.AudienceClaim says otherwise)
//     against the issuer's audiences (at least one must match);
//  5. extracts subject, client id, groups and scopes through the issuer's claim paths (see ClaimPath).
//
// Keys are never taken from the token itself: "jku", "x5u", "jwk" and "x5c" headers are ignored.
//
// Every fault of the token is an error that matches ErrInvalidToken with errors.Is, and also a more specific
// sentinel (ErrExpired, ErrAudience, ErrUnknownKey, ...). A missing token is ErrNoToken. A failure to obtain the
// issuer's keys is ErrKeysUnavailable: that is the server's fault, not the caller's, and the edge should answer it
// as an internal error (ext_authz fails closed).
//
// # Users and machines
//
// A token obtained by client credentials identifies a client, not a user. The rule, applied per token:
// the token is a machine token when it has no subject, when its subject equals its client id (Hydra, Okta, Cognito),
// when its subject is the client id followed by "@clients" (Auth0), or when one of the issuer's
// ClaimsConfig.Machine rules matches (for example Entra ID's idtyp=app, or a Keycloak service account's
// preferred_username prefix). A machine Principal has an empty Subject and a non-empty ClientID; a user Principal has
// a Subject and an empty ClientID, so a grant to a client id never reaches a user who signs in through that client.
// Both carry AuthorizedParty, the client the token was issued to.
//
// # Performance
//
// Verify runs on every ext_authz Check. A successfully verified token is remembered until it expires (bounded
// cache, Options.CacheSize), so the common case of a client sending the same token on every call costs a map
// lookup; a cached entry is dropped as soon as the key that signed it leaves the issuer's key set. The Principal
// returned from the cache shares its Claims map and slices with other callers: treat a Principal as read-only.
//
// # Development issuer
//
// DevIssuer keeps an ES256 signing key in the data directory and issues tokens for local use (`mcpgw token`). It is
// for a laptop or a CI run only: anyone who can read the data directory can mint tokens for any subject and group.
// DevIssuer.IssuerConfig turns it into an ordinary issuer entry with a static key set.
package identity
