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
	// The development login: a SUPER_ADMIN of the workspace, for /api/auth/login and /dashboard/.
	Email    string `json:"email"`
	Password string `json:"password"`
}

// devEmail is the development login's email.
const devEmail = "dev@switchboard.local"

// ensureDevWorkspace returns the kept development workspace, creating it (and a new key) when
// the file is missing or its key no longer works (the database was reset, the key revoked).
func ensureDevWorkspace(ctx context.Context, db *store.DB, path string) (*devWorkspace, error) {
	var dev devWorkspace
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &dev) == nil && dev.APIKey != "" {
		k, err := db.FindAPIKey(ctx, dev.APIKey)
		if err == nil && k.RevokedAt == nil && k.WorkspaceID == dev.WorkspaceID {
			return &dev, ensureDevLogin(ctx, db, &dev, path)
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
	return &dev, ensureDevLogin(ctx, db, &dev, path)
}

// ensureDevLogin makes sure the development login signs in, as a SUPER_ADMIN of the
// development workspace, giving it a new password when the kept one no longer works; and
// keeps the file up to date.
func ensureDevLogin(ctx context.Context, db *store.DB, dev *devWorkspace, path string) error {
	if dev.Email != "" && dev.Password != "" {
		if _, err := db.Authenticate(ctx, dev.Email, dev.Password); err == nil {
			return nil
		} else if !errors.Is(err, store.ErrBadCredentials) {
			return err
		}
	}
	dev.Email, dev.Password = devEmail, randomString(18)
	_, err := db.AddWorkspaceUser(ctx, dev.WorkspaceID, store.UserCreate{Email: dev.Email, Password: dev.Password,
		Role: "SUPER_ADMIN", FirstName: "Development", LastName: "User"})
	if errors.Is(err, store.ErrConflict) { // the user exists (another workspace, an old password): reset it here
		if _, err := db.AddWorkspaceUser(ctx, dev.WorkspaceID, store.UserCreate{Email: dev.Email, Role: "SUPER_ADMIN"}); err != nil &&
			!errors.Is(err, store.ErrConflict) {
			return err
		}
		members, lerr := db.ListWorkspaceUsers(ctx, dev.WorkspaceID)
		if lerr != nil {
			return lerr
		}
		for _, m := range members {
			if m.Email == dev.Email {
				_, err = db.UpdateWorkspaceUser(ctx, dev.WorkspaceID, m.ID, store.MemberUpdate{Password: &dev.Password})
			}
		}
	}
	if err != nil {
		return err
	}
	b, _ := json.MarshalIndent(dev, "", "  ") //nolint:gosec // G117: the development key and login are meant to be kept here, in a 0600 file of the data dir, so a restart prints the same ones
	return os.WriteFile(path, b, 0o600)
}
