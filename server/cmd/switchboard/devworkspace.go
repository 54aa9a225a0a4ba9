package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
)

// devWorkspace is the ready-made workspace and `*` key the embedded default creates on first
// start, kept in the data directory so a restart shows the same ones.
type devWorkspace struct {
	WorkspaceID uuid.UUID `json:"workspaceId"`
	Name        string    `json:"name"`
	APIKey      string    `json:"apiKey"`
}

// ensureDevWorkspace returns the kept development workspace, creating it (and a new key) when
// the file is missing or its key no longer works (the database was reset, the key revoked).
func ensureDevWorkspace(ctx context.Context, db *store.DB, path string) (*devWorkspace, error) {
	var dev devWorkspace
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &dev) == nil && dev.APIKey != "" {
		k, err := db.FindAPIKey(ctx, dev.APIKey)
		if err == nil && k.RevokedAt == nil && k.WorkspaceID == dev.WorkspaceID {
			return &dev, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	w, err := db.CreateWorkspace(ctx, "Development")
	if err != nil {
		return nil, err
	}
	_, secret, err := db.CreateAPIKey(ctx, w.ID, "development (all permissions)", []string{"*"}, nil)
	if err != nil {
		return nil, err
	}
	dev = devWorkspace{WorkspaceID: w.ID, Name: w.Name, APIKey: secret}
	b, _ := json.MarshalIndent(dev, "", "  ") //nolint:gosec // G117: the development key is meant to be kept here, in a 0600 file of the data dir, so a restart prints the same one
	return &dev, os.WriteFile(path, b, 0o600)
}
