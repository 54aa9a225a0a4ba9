// Package seal encrypts secrets at rest (provider credentials, signing secrets) with
// AES-256-GCM. A sealed value is bound to caller-chosen associated data, typically the id of the
// row that holds it, so a ciphertext copied into another row does not decrypt.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// version is the first byte of every sealed value, so the format can change later without
// guessing what an old value is.
const version byte = 1

// KeySize is the length in bytes of an AES-256 key.
const KeySize = 32

// Box seals and opens values with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
	key  []byte
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead, key: append([]byte(nil), key...)}, nil
}

// Derive returns a 32-byte key for one purpose (HKDF-SHA256 of the box's key, with purpose as
// the info), so other secrets, such as the key signing page tokens, need no configuration of
// their own and a key derived for one purpose reveals nothing of the box's key or of another.
func (b *Box) Derive(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, b.key, nil, "switchboard/"+purpose, KeySize)
	if err != nil {
		panic(err) // only for lengths HKDF-SHA256 cannot produce; KeySize is far below that
	}
	return k
}

// ParseKey decodes a key written as 64 hex digits or as standard or URL-safe base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, errors.New("seal: key must be 32 bytes written as 64 hex digits or base64")
}

// GenerateKey returns a new random key, base64-encoded as ParseKey reads it.
func GenerateKey() string {
	k := make([]byte, KeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on Linux
	return base64.StdEncoding.EncodeToString(k)
}

// Seal encrypts plaintext bound to aad.
func (b *Box) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := make([]byte, 0, 1+len(nonce)+len(plaintext)+b.aead.Overhead())
	out = append(out, version)
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, aad)
}

// Open decrypts a value made by Seal with the same key and aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < 1+n+b.aead.Overhead() || sealed[0] != version {
		return nil, errors.New("seal: not a sealed value")
	}
	plain, err := b.aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, errors.New("seal: wrong key or tampered value")
	}
	return plain, nil
}
