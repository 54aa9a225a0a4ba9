package seal_test

import (
	"bytes"
	"testing"

	"github.com/switchboard-dev/switchboard/store/seal"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key, err := seal.ParseKey(seal.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	box, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"apiKey":"sk-xxx"}`)
	sealed := box.Seal(secret, []byte("row-1"))
	if bytes.Contains(sealed, []byte("sk-xxx")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := box.Open(sealed, []byte("row-1"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := box.Open(sealed, []byte("row-2")); err == nil {
		t.Fatal("a value sealed for row-1 opened for row-2")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := box.Open(sealed, []byte("row-1")); err == nil {
		t.Fatal("a tampered value opened")
	}
	other, _ := seal.New(bytes.Repeat([]byte{7}, seal.KeySize))
	if _, err := other.Open(box.Seal(secret, nil), nil); err == nil {
		t.Fatal("a value opened with another key")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	hexKey := "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	k, err := seal.ParseKey(hexKey)
	if err != nil || len(k) != 32 || k[31] != 0x1f {
		t.Fatalf("hex key: %x, %v", k, err)
	}
	for _, bad := range []string{"", "short", hexKey[:62], "AAAA"} {
		if _, err := seal.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

func TestDerive(t *testing.T) {
	t.Parallel()
	a, _ := seal.New(bytes.Repeat([]byte{1}, seal.KeySize))
	b, _ := seal.New(bytes.Repeat([]byte{2}, seal.KeySize))
	k1, k2 := a.Derive("page-token"), a.Derive("other")
	if len(k1) != seal.KeySize || bytes.Equal(k1, k2) {
		t.Fatalf("purposes share a key or the length is wrong: %x %x", k1, k2)
	}
	if !bytes.Equal(k1, a.Derive("page-token")) {
		t.Fatal("Derive is not deterministic")
	}
	if bytes.Equal(k1, b.Derive("page-token")) {
		t.Fatal("two box keys derive the same key")
	}
	if bytes.Equal(k1, bytes.Repeat([]byte{1}, seal.KeySize)) {
		t.Fatal("Derive returned the box's key")
	}
}
