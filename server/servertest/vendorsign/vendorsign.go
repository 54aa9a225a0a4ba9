// Package vendorsign signs webhook requests the way the vendors do, with their own published
// libraries (stripe, @octokit/webhooks-methods, standardwebhooks, twilio; Shopify's documented
// snippet), pinned in scripts/vendorsign and run with node: tests check Switchboard's
// verification against what the vendors really send, not against a second copy of it.
package vendorsign

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Request is one request to sign.
type Request struct {
	Scheme    string `json:"scheme"`
	Secret    string `json:"secret"`
	Body      string `json:"body"`
	Timestamp int64  `json:"timestamp,omitempty"`
	// URL is what Twilio signs; ID is a Standard Webhooks message id.
	URL string `json:"url,omitempty"`
	ID  string `json:"id,omitempty"`
	// JSON makes a Twilio request with a JSON body (signed through bodySHA256); Svix names the
	// Standard Webhooks headers svix-*.
	JSON bool `json:"json,omitempty"`
	Svix bool `json:"svix,omitempty"`
}

// Signed is what the vendor sends with a request: its headers, and for Twilio's JSON bodies
// the URL it calls (with bodySHA256).
type Signed struct {
	Header map[string]string
	URL    string
}

var (
	installOnce sync.Once
	installErr  error
	root        string
)

// Sign signs every request with its vendor's library, in one node process.
func Sign(t testing.TB, reqs ...Request) []Signed {
	t.Helper()
	installOnce.Do(func() {
		root, installErr = repoRoot()
		if installErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "vendorsign.sh"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			installErr = &installError{err: err, out: out.String()}
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range reqs {
		if err := enc.Encode(r); err != nil { //nolint:gosec // G117: the secret is a test fixture, sent to the signer on purpose
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(root, "scripts", "vendorsign", "sign.mjs"))
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("vendorsign: %v\n%s", err, stderr.String())
	}
	var signed []Signed
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var h map[string]string
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			t.Fatalf("vendorsign output %q: %v", sc.Text(), err)
		}
		s := Signed{Header: h, URL: h["url"]}
		delete(h, "url")
		signed = append(signed, s)
	}
	if len(signed) != len(reqs) {
		t.Fatalf("vendorsign signed %d of %d requests", len(signed), len(reqs))
	}
	return signed
}

type installError struct {
	err error
	out string
}

func (e *installError) Error() string {
	return "scripts/vendorsign.sh: " + e.err.Error() + "\n" + e.out
}

// repoRoot is the directory holding go.mod, above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
