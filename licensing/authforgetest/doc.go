// Package authforgetest is an in-process fake of both AuthForge APIs
// speaking the real wire format, for tests and for `shopbot demo`.
//
// One httptest server serves the Auth API (POST /auth/validate,
// POST /auth/heartbeat) and the Developer API (/v1/licenses...), so a
// client points both its AuthURL and APIURL at Server.URL.
//
// The fake signs answers with a real Ed25519 key generated at start
// (PublicKey, RotateKey), issues keys in AuthForge's alphabet, binds HWIDs to
// free slots and answers hwid_mismatch when they are full, honours
// revocation, extension, HWID resets and expiry against the injected clock,
// paginates with opaque cursors, issues session tokens
// "<base64url body>.<base64url mac>" that heartbeats check, detects replayed
// nonces and accounts credits (1 per successful validate, 1 per 10
// successful heartbeats of a license).
//
// Faults are injected per request path: FailNext (any status and error
// code, 429 with Retry-After, or a dropped connection), TamperNext (a
// signature that does not verify), WrongNonceNext (a validly signed answer
// for another nonce), DropAfterCreateNext and HangUpAfterCreateNext (the
// license is created but the answer is lost), and SetLatency.
//
// The package has no testing dependency; it is safe for concurrent use.
package authforgetest
