package pagetoken_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/server/pagetoken"
)

func TestRoundTripAndRefusals(t *testing.T) {
	t.Parallel()
	s := pagetoken.New(bytes.Repeat([]byte{1}, 32))
	id := uuid.Must(uuid.NewV7())
	scope := pagetoken.Scope("channels", "ws-1", "platform=sms")
	tok := s.Encode(scope, id)
	got, err := s.Decode(scope, tok)
	if err != nil || got != id {
		t.Fatalf("Decode = %v, %v; want %v", got, err, id)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flipped := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	refused := map[string][2]string{
		"other workspace":    {pagetoken.Scope("channels", "ws-2", "platform=sms"), tok},
		"other filters":      {pagetoken.Scope("channels", "ws-1", "platform=email"), tok},
		"other resource":     {pagetoken.Scope("contacts", "ws-1", "platform=sms"), tok},
		"altered id":         {scope, flipped(5)},
		"altered mac":        {scope, flipped(len(raw) - 1)},
		"altered version":    {scope, flipped(0)},
		"truncated":          {scope, tok[:len(tok)-2]},
		"not base64":         {scope, "!!!"},
		"empty":              {scope, ""},
		"other key":          {scope, pagetoken.New(bytes.Repeat([]byte{2}, 32)).Encode(scope, id)},
		"parts run together": {pagetoken.Scope("channels", "ws-1platform=sms"), pagetoken.New(bytes.Repeat([]byte{1}, 32)).Encode(pagetoken.Scope("channels", "ws-1", "platform=sms"), id)},
	}
	for name, c := range refused {
		if _, err := s.Decode(c[0], c[1]); !errors.Is(err, pagetoken.ErrInvalid) {
			t.Errorf("%s: Decode err = %v, want ErrInvalid", name, err)
		}
	}
}
