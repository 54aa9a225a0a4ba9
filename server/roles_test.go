package server_test

import (
	"context"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/auth"
	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestRolePermissions calls every permissioned operation of every surface as a signed-in user
// of each role, and holds each answer to the role table the specs' x-roles make: a role holding
// every permission of the operation's x-permissions gets past authentication (any answer but
// 401 and 403: the ids are made up, so most are 400 or 404), any other role gets the 403 that
// names the missing permission. Operations marked x-user-session take any role, and refuse
// API keys. It reads the specs, so an operation added later is covered without changing it.
func TestRolePermissions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "*")
	roles, err := openapi.RolePermissions()
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, role := range openapi.Roles {
		email, pw := env.User(t, ws, role)
		tokens[role] = env.Login(t, email, pw)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	type call struct {
		surface, method, path, credential string
		role                              string // "" for the API key
		want                              string // "allowed" or the missing permissions
	}
	var calls []call
	for _, s := range openapi.Surfaces {
		if s.Name == "admin" {
			continue
		}
		data, err := openapi.YAML(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := contract.Load(data, s.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range slices.Sorted(maps.Keys(spec.Doc.Paths.Map())) {
			item := spec.Doc.Paths.Value(p)
			for _, m := range slices.Sorted(maps.Keys(item.Operations())) {
				op := item.GetOperation(m)
				raw, listed := op.Extensions[contract.PermissionsExtension].([]any)
				if !listed && op.Extensions[contract.PermissionsExtension] == nil {
					continue // public (the Ingest receiving URL, sign-in)
				}
				var perms []string
				for _, v := range raw {
					perms = append(perms, v.(string))
				}
				path := s.Prefix + param.ReplaceAllStringFunc(p, func(name string) string {
					if name == "{workspaceId}" {
						return ws.String()
					}
					return uuid.NewString()
				})
				_, sessionOnly := op.Extensions[auth.UserSessionExtension]
				for _, role := range openapi.Roles {
					var missing []string
					for _, perm := range perms {
						if !slices.Contains(roles[role], perm) {
							missing = append(missing, perm)
						}
					}
					want := "allowed"
					if len(missing) > 0 {
						want = "Missing permission: " + strings.Join(missing, ", ")
					}
					calls = append(calls, call{s.Name, m, path, tokens[role], role, want})
				}
				if sessionOnly {
					calls = append(calls, call{s.Name, m, path, key, "", "signed-in user's access token"})
				}
			}
		}
	}
	if len(calls) < 4*100 {
		t.Fatalf("only %d calls: the specs were not read", len(calls))
	}
	var mu sync.Mutex
	counts := map[string]int{}
	work := make(chan call)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				var body io.Reader
				if c.method == http.MethodPost || c.method == http.MethodPut || c.method == http.MethodPatch {
					body = strings.NewReader("{}")
				}
				req, _ := http.NewRequestWithContext(context.Background(), c.method, env.URL+c.path, body)
				req.Header.Set("Authorization", "Bearer "+c.credential)
				req.Header.Set("x-tenant-id", ws.String())
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("%s %s: %v", c.method, c.path, err)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				who := c.role
				if who == "" {
					who = "API key"
				}
				switch {
				case c.want == "allowed" && (resp.StatusCode == 401 || resp.StatusCode == 403):
					t.Errorf("%s %s %s as %s: %d %s, want it allowed", c.surface, c.method, c.path, who, resp.StatusCode, b)
				case c.want != "allowed" && (resp.StatusCode != 403 || !strings.Contains(string(b), c.want)):
					t.Errorf("%s %s %s as %s: %d %s, want 403 %q", c.surface, c.method, c.path, who, resp.StatusCode, b, c.want)
				}
				mu.Lock()
				counts[who+" "+map[bool]string{true: "allowed", false: "refused"}[c.want == "allowed"]]++
				mu.Unlock()
			}
		}()
	}
	for _, c := range calls {
		work <- c
	}
	close(work)
	wg.Wait()
	t.Logf("%d calls: %v", len(calls), counts)
	// The table is not trivial: every role is allowed something, and those below ADMIN are
	// refused something (ADMIN and SUPER_ADMIN differ only in what is the operator's here:
	// Reten's user and tenant management).
	for _, role := range openapi.Roles {
		if counts[role+" allowed"] == 0 || ((role == "FDE" || role == "VIEWER") && counts[role+" refused"] == 0) {
			t.Errorf("%s: %v", role, counts)
		}
	}
}
