package store

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// Destination authentication types.
const (
	AuthBearer = "bearer"
	AuthBasic  = "basic"
	AuthAPIKey = "api_key"
)

// DestinationAuth is how forwarded requests authenticate to a destination: a bearer token,
// basic credentials (Username and Secret, the password) or an API key sent in Header.
type DestinationAuth struct {
	Type     string
	Username string
	Header   string
	Secret   string
}

func destinationAAD(id uuid.UUID) []byte { return []byte("ingest_destination:" + id.String()) }

func destinationAuthAAD(id uuid.UUID) []byte { return []byte("ingest_destination_auth:" + id.String()) }

// authConfig is the non-secret part of a destination's authentication, as stored.
type authConfig struct {
	Username string `json:"username,omitempty"`
	Header   string `json:"header,omitempty"`
}

// openAuth decrypts a destination's authentication; nil when it has none.
func (s *DB) openAuth(id uuid.UUID, typ *string, config, sealed []byte) (*DestinationAuth, error) {
	if typ == nil {
		return nil, nil
	}
	a := &DestinationAuth{Type: *typ}
	var c authConfig
	if len(config) > 0 {
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, err
		}
	}
	a.Username, a.Header = c.Username, c.Header
	secret, err := s.box.Open(sealed, destinationAuthAAD(id))
	if err != nil {
		return nil, fmt.Errorf("open destination auth: %w", err)
	}
	a.Secret = string(secret)
	return a, nil
}
