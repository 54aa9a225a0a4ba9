// Package pagetoken makes the page tokens of keyset-paginated lists: opaque to clients and
// tamper-evident. A token carries the id of the last item of a page and an HMAC binding it to
// the listing it was issued for (the resource, the workspace and the filters), so an altered
// token, or one replayed against another workspace or other filters, is refused rather than
// read.
package pagetoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/google/uuid"
)

// version is the first byte of every token, so the format can change later.
const version byte = 1

// macSize is how much of the HMAC-SHA256 a token keeps: 128 bits is far beyond guessing.
const macSize = 16

// ErrInvalid is returned for a token that was not issued for the listing it is used with.
var ErrInvalid = errors.New("pagetoken: not a page token of this listing")

// Signer issues and checks tokens with one key. It is safe for concurrent use.
type Signer struct {
	key []byte
}

// New returns a Signer using key (at least 32 bytes of secret).
func New(key []byte) *Signer { return &Signer{key: append([]byte(nil), key...)} }

// Scope names one listing from its parts (resource, workspace id, each filter in a fixed
// order and canonical form). Parts are length-prefixed, so no two lists of parts give one scope.
func Scope(parts ...string) string {
	var b []byte
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return string(b)
}

func (s *Signer) mac(scope string, body []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(body)
	m.Write([]byte(scope))
	return m.Sum(nil)[:macSize]
}

// Encode returns the token for the page that follows the item last in the listing scope.
func (s *Signer) Encode(scope string, last uuid.UUID) string {
	body := make([]byte, 0, 1+16+macSize)
	body = append(body, version)
	body = append(body, last[:]...)
	body = append(body, s.mac(scope, body)...)
	return base64.RawURLEncoding.EncodeToString(body)
}

// Decode returns the last item's id a token carries, or ErrInvalid when the token was not
// issued by this key for the listing scope.
func (s *Signer) Decode(scope, token string) (uuid.UUID, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 1+16+macSize || raw[0] != version {
		return uuid.Nil, ErrInvalid
	}
	body, sum := raw[:1+16], raw[1+16:]
	if !hmac.Equal(sum, s.mac(scope, body)) {
		return uuid.Nil, ErrInvalid
	}
	return uuid.UUID(body[1:]), nil
}
