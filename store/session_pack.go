package store

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// An activation keeps AuthForge's signed session so its signature can be
// checked again later (AUTHFORGE.md, "Local mode"). That session is most of
// the record, so it is kept in a smaller but exactly reversible form:
//   - the payload as its decoded JSON (it starts with '{', which base64
//     never does) when base64 gives back the very string AuthForge signed;
//   - the session token as a one-byte mark when the payload carries the
//     same one;
//   - the signature as 0x00 and its raw bytes, when base64 gives it back.
// Anything that does not round-trip exactly is stored as it came.

const (
	rawSignatureMark = "\x00"
	tokenInPayload   = "\x00"
)

// packSession returns a with its session in the stored form.
func packSession(a Activation) Activation {
	if js, err := base64.StdEncoding.DecodeString(a.Payload); err == nil && len(js) > 0 && js[0] == '{' &&
		base64.StdEncoding.EncodeToString(js) == a.Payload {
		a.Payload = string(js)
		if a.SessionToken != "" && payloadToken(a.Payload) == a.SessionToken {
			a.SessionToken = tokenInPayload
		}
	}
	if sig, err := base64.StdEncoding.DecodeString(a.Signature); err == nil && len(sig) > 0 &&
		base64.StdEncoding.EncodeToString(sig) == a.Signature {
		a.Signature = rawSignatureMark + string(sig)
	}
	return a
}

// unpackSession turns a stored session back into what AuthForge sent.
func unpackSession(a *Activation) {
	if strings.HasPrefix(a.Payload, "{") {
		if a.SessionToken == tokenInPayload {
			a.SessionToken = payloadToken(a.Payload)
		}
		a.Payload = base64.StdEncoding.EncodeToString([]byte(a.Payload))
	}
	if sig, ok := strings.CutPrefix(a.Signature, rawSignatureMark); ok {
		a.Signature = base64.StdEncoding.EncodeToString([]byte(sig))
	}
}

func payloadToken(js string) string {
	var p struct {
		SessionToken string `json:"sessionToken"`
	}
	if json.Unmarshal([]byte(js), &p) != nil {
		return ""
	}
	return p.SessionToken
}
