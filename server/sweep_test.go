package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchboard-dev/switchboard/openapi"
	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

// TestHostileInputSweep sends hostile variants of every parameter and body field of every
// operation of every spec in openapi.Surfaces (wrong types, NUL, invalid UTF-8, numbers out of
// range, huge strings and arrays, deep nesting, dates at the edge, the nil UUID, repeated
// parameters, trailing bytes, duplicate keys, …) with a key holding every permission, against
// resources that exist, and holds every answer to: not a 5xx, within the request timeout, and
// (when an error) the status and body the operation's spec declares. It reads the specs, so an
// operation added later is swept without changing this test. Variants are a bounded sample per
// field, so the whole sweep stays within tens of seconds.
func TestHostileInputSweep(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	fx := sweepFixtures(t, env)
	ops := sweepOperations(t)
	var cases []sweepCase
	for _, op := range ops {
		cases = append(cases, op.cases(fx)...)
	}
	// Deletions last, so the other operations find the resources they name, and the deepest
	// first, so each finds its parent.
	sort.SliceStable(cases, func(i, j int) bool {
		di, dj := cases[i].op.method == http.MethodDelete, cases[j].op.method == http.MethodDelete
		if di != dj {
			return dj
		}
		return di && strings.Count(cases[i].op.path, "/") > strings.Count(cases[j].op.path, "/")
	})
	client := &http.Client{Timeout: sweepTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: sweepWorkers}}
	results := make([]sweepResult, len(cases))
	seenSurface := map[string]bool{}
	next := make(chan int)
	var wg sync.WaitGroup
	started := time.Now()
	for range sweepWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = cases[i].run(client, env.URL)
			}
		}()
	}
	for i := range cases {
		next <- i
	}
	close(next)
	wg.Wait()
	// Requests Go's HTTP server refuses before routing, to one operation of every surface, on
	// raw connections: a control byte in a header, headers over 1 MiB, an unknown
	// Transfer-Encoding.
	for _, op := range ops {
		if op.method != http.MethodGet || seenSurface[op.surface] {
			continue
		}
		seenSurface[op.surface] = true
		c := op.cases(fx)[0]
		target := c.target(c.path)
		if c.query != "" {
			target += "?" + c.query
		}
		for _, v := range []struct{ name, header string }{
			{"control byte in a header", "X-Note: a\x01b\r\n"},
			{"headers over 1 MiB", "X-Huge: " + strings.Repeat("a", 1<<20+8192) + "\r\n"},
			{"unknown Transfer-Encoding", "Transfer-Encoding: gzip, chunked\r\n"},
		} {
			resp, body := raw(t, env, "GET "+target+" HTTP/1.1\r\nHost: sweep\r\nAuthorization: "+c.header.Get("Authorization")+
				"\r\n"+v.header+"\r\n", 1)
			r := sweepResult{status: resp.StatusCode, body: body,
				shape: servertest.MatchesSpec(t, op.method, c.target(c.path), resp.StatusCode, resp.Header, body)}
			cases = append(cases, sweepCase{op: op, name: "raw " + v.name})
			results = append(results, r)
		}
	}
	elapsed := time.Since(started)

	var tally struct{ requests, ok, client, server, hangs, shape, accepted int }
	statuses := map[int]int{}
	opsSeen := map[string]bool{}
	var failures []string
	for i, r := range results {
		c := cases[i]
		opsSeen[c.op.surface+" "+c.op.op.OperationID] = true
		tally.requests++
		statuses[r.status]++
		what := fmt.Sprintf("%s %s [%s]", c.op.surface, c.op.op.OperationID, c.name)
		switch {
		case r.err != nil:
			tally.hangs++
			failures = append(failures, fmt.Sprintf("%s: no answer: %v", what, r.err))
			continue
		case r.status >= 500:
			tally.server++
			failures = append(failures, fmt.Sprintf("%s: %d %.300s", what, r.status, r.body))
		case r.status >= 400:
			tally.client++
		default:
			tally.ok++
		}
		if c.expect != "" && r.status != http.StatusUnauthorized && r.status != http.StatusForbidden &&
			(r.status != http.StatusBadRequest || !bytes.Contains(r.body, []byte(c.expect))) {
			tally.accepted++
			failures = append(failures, fmt.Sprintf("%s: %d, not a 400 naming %s: %.300s", what, r.status, c.expect, r.body))
		}
		if r.shape != nil {
			tally.shape++
			failures = append(failures, fmt.Sprintf("%s: %d does not match the spec: %.600v\nbody: %.300s", what, r.status, r.shape, r.body))
		}
	}
	t.Logf("sweep: %d operations, %d requests in %s: %d 2xx, %d 4xx, %d 5xx, %d without an answer, %d not matching the spec, "+
		"%d hostile values not refused with a 400 naming them; by status %v",
		len(opsSeen), tally.requests, elapsed.Round(time.Millisecond), tally.ok, tally.client, tally.server, tally.hangs, tally.shape,
		tally.accepted, statuses)
	if len(opsSeen) != len(ops) {
		t.Errorf("%d operations in the specs, %d swept", len(ops), len(opsSeen))
	}
	sort.Strings(failures)
	for i, f := range failures {
		if i == sweepShown {
			t.Errorf("… and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}
}

// sweepShown is how many failures the sweep lists.
const sweepShown = 60

const (
	sweepTimeout = 20 * time.Second
	sweepWorkers = 4
)

// sweepOp is one operation of one surface.
type sweepOp struct {
	surface string
	prefix  string
	spec    *contract.Spec
	path    string // the spec's path template, e.g. /apps/{appId}
	method  string
	op      *openapi3.Operation
	params  []*openapi3.Parameter
}

func sweepOperations(t testing.TB) []*sweepOp {
	t.Helper()
	var ops []*sweepOp
	for _, s := range openapi.Surfaces {
		data, err := openapi.YAML(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		spec, err := contract.Load(data, s.Prefix)
		if err != nil {
			t.Fatal(err)
		}
		external, err := spec.External()
		if err != nil {
			t.Fatal(err)
		}
		paths := spec.Doc.Paths.InMatchingOrder()
		sort.Strings(paths)
		for _, p := range paths {
			item := spec.Doc.Paths.Value(p)
			methods := slices.Sorted(maps.Keys(item.Operations()))
			for _, m := range methods {
				op := item.GetOperation(m)
				o := &sweepOp{surface: s.Name, prefix: s.Prefix, spec: spec, path: p, method: m, op: op}
				if len(item.Servers) > 0 {
					// Served outside the surface's prefix, at its own server's path (the Ingest
					// API's receiving URL, at the root).
					u, err := url.Parse(item.Servers[0].URL)
					if err != nil {
						t.Fatal(err)
					}
					o.prefix, o.spec = strings.TrimSuffix(u.Path, "/"), external
				}
				seen := map[string]bool{}
				for _, ps := range []openapi3.Parameters{op.Parameters, item.Parameters} {
					for _, pr := range ps {
						if key := pr.Value.In + ":" + pr.Value.Name; !seen[key] {
							seen[key] = true
							o.params = append(o.params, pr.Value)
						}
					}
				}
				ops = append(ops, o)
			}
		}
	}
	return ops
}

// fixtures are the resources the sweep's requests name: path parameter values by
// "<segment before>/{name}" (or "/{name}" for a first segment) and body field values by name.
type fixtures struct {
	path  map[string]string
	body  map[string]any
	key   string
	admin string
}

func sweepFixtures(t *testing.T, env *servertest.Env) *fixtures {
	t.Helper()
	ws, key := env.Workspace(t, "*")
	fx := &fixtures{path: map[string]string{}, body: map[string]any{}, key: key, admin: servertest.AdminToken}
	bearer := []string{"Authorization", "Bearer " + key}
	create := func(method, path, body string, want int, field string) string {
		t.Helper()
		status, b := env.Do(t, method, path, body, bearer...)
		if status != want {
			t.Fatalf("fixture %s %s: %d %s", method, path, status, b)
		}
		if field == "" {
			return ""
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(m[field])
	}
	// Activities.
	commerce := create("POST", "/api/commerces", `{"name":"Almacen Don Pepe","external_id":"C-1001"}`, 201, "id")
	user := create("POST", "/api/commerces/"+commerce+"/users",
		`{"name":"Maria Garcia","external_id":"usr-001","source":"RETEN","roles":["OWNER"]}`, 201, "id")
	contact := create("POST", "/api/commerces/"+commerce+"/users/"+user+"/contacts",
		`{"contact_type":"PHONE","value":"+56912345678","source":"RETEN","is_primary":true}`, 201, "id")
	create("POST", "/api/activity-reasons", `{"code":"monthly_promotion","label":"Promocion Mensual"}`, 201, "")
	dispatchConfig := create("POST", "/api/dispatch-configs",
		`{"dispatch_provider_id":"770e8400-e29b-41d4-a716-446655440000","channel":"WHATSAPP"}`, 201, "id")
	// Resolution: a key of the workspace's own with a policy, and a MANUAL target config, so that
	// the activity has a target user waiting to be assigned.
	attributeKey := create("POST", "/api/activity-config/attribute-keys", `{"key":"loyalty_tier","label":"Loyalty tier"}`, 201, "id")
	policy := create("POST", "/api/activity-config/attribute-policies",
		`{"attribute_key_id":"`+attributeKey+`","strategy":"CALLER_PROVIDED"}`, 200, "id")
	targetConfig := create("POST", "/api/activity-config/target-resolution", `{"resolution_strategy":"MANUAL","priority":5}`, 201, "id")
	var activity, targetUser string
	{
		status, b := env.Do(t, "POST", "/api/activities", `{"type":"MESSAGE","reason":"Monthly promotion","channel":"WHATSAPP",
			"commerce_id":"`+commerce+`","idempotency_key":"sweep-1","scheduled_at":"2025-01-16T09:00:00.000Z"}`, bearer...)
		var a struct {
			ID         string `json:"id"`
			TargetUser struct {
				ID string `json:"id"`
			} `json:"targetUser"`
		}
		if err := json.Unmarshal(b, &a); status != 201 || err != nil || a.TargetUser.ID == "" {
			t.Fatalf("fixture activity: %d %v %s", status, err, b)
		}
		activity, targetUser = a.ID, a.TargetUser.ID
	}
	create("POST", "/api/task-result-type-configs", `{"code":"SALE_COMPLETED","label":"Venta completada"}`, 201, "")
	const yom = "660e8400-e29b-41d4-a716-446655440000"
	maps.Copy(fx.path, map[string]string{
		"activities activities/{id}": activity, "activities commerces/{id}": commerce, "activities users/{userId}": user,
		"activities contacts/{contactId}": contact, "activities roles/{role}": "OWNER",
		"activities dispatch-configs/{id}": dispatchConfig, "activities dispatch-providers/{id}": yom,
		"activities attribute-keys/{id}": attributeKey, "activities attribute-policies/{id}": policy,
		"activities target-resolution/{id}": targetConfig, "activities target-users/{targetUserId}": targetUser,
	})
	maps.Copy(fx.body, map[string]any{"commerce_id": commerce, "activity_id": activity, "attribute_key_id": attributeKey,
		"commerce_user_id": user})
	// Admin: the workspace, its key, the YOM provider.
	// A second key, for revokeApiKey to revoke.
	var keyID string
	other := env.Key(t, ws, "VIEW_ACTIVITIES")
	{
		status, b := env.Do(t, "GET", "/admin/v1/workspaces/"+ws.String()+"/api-keys", "", "Authorization", "Bearer "+fx.admin)
		if status != 200 {
			t.Fatalf("list keys: %d %s", status, b)
		}
		var keys []struct {
			ID     string `json:"id"`
			Prefix string `json:"prefix"`
		}
		if err := json.Unmarshal(b, &keys); err != nil {
			t.Fatalf("list keys: %v %s", err, b)
		}
		for _, k := range keys {
			if strings.HasPrefix(other, k.Prefix) {
				keyID = k.ID
			}
		}
	}
	maps.Copy(fx.path, map[string]string{
		"admin workspaces/{workspaceId}": ws.String(), "admin api-keys/{keyId}": keyID,
		"admin dispatch-providers/{providerId}": yom, "admin channel-definitions/{channel}": "SALESMAN",
	})
	// Channels.
	channel := create("POST", "/workspaces/"+ws.String()+"/channels", `{"platformId":"whatsapp","name":"Support"}`, 201, "id")
	chContact := create("POST", "/workspaces/"+ws.String()+"/contacts",
		`{"displayName":"Ana","identifiers":[{"key":"phonenumber","value":"+31687654321"}]}`, 201, "id")
	maps.Copy(fx.path, map[string]string{
		"channels /{workspaceId}": ws.String(), "channels channels/{channelId}": channel, "channels contacts/{contactId}": chContact,
	})
	// Calling.
	config := create("POST", "/calling/configurations", `{"reseller_id":"res_001","template":"tpl_xyz789",
		"initial_offset":0,"retry_offset":3600,"call_start_time":"09:00","call_end_time":"21:00","max_retry":3,
		"calling_provider":"TWILIO"}`, 201, "id")
	create("POST", "/calling/blacklist", `{"numbers":["+919800000001"]}`, 200, "")
	maps.Copy(fx.path, map[string]string{"calling configurations/{id}": config, "calling blacklist/{number}": "+919800000001"})
	// Numbers blacklisted by the sweep are not the one its decisions are for.
	fx.body["numbers"] = []any{"+919800000002"}
	// Webhooks.
	app := create("POST", "/api/v1/apps", `{"name":"Billing webhooks","routingKeyBodyPath":"customer.id"}`, 201, "appId")
	create("PUT", "/api/v1/apps/"+app+"/event-types/invoice.paid", `{"description":"An invoice was paid"}`, 201, "")
	create("POST", "/api/v1/apps/"+app+"/recipients", `{"recipientId":"customer_123","name":"Acme"}`, 201, "")
	endpoint := create("POST", "/api/v1/apps/"+app+"/recipients/customer_123/endpoints",
		`{"url":"https://hooks.example.com/in","eventTypes":["invoice.paid"]}`, 201, "endpointId")
	message := create("POST", "/api/v1/apps/"+app+"/messages",
		`{"eventType":"invoice.paid","recipientId":"customer_123","data":{"invoiceId":"inv_123"}}`, 202, "messageId")
	replay := create("POST", "/api/v1/apps/"+app+"/replays", `{"since":"2026-01-01T00:00:00Z"}`, 202, "replayId")
	maps.Copy(fx.path, map[string]string{
		"webhooks apps/{appId}": app, "webhooks event-types/{eventTypeName}": "invoice.paid",
		"webhooks recipients/{recipientId}": "customer_123", "webhooks endpoints/{endpointId}": endpoint,
		"webhooks messages/{messageId}": message, "webhooks replays/{replayId}": replay,
	})
	maps.Copy(fx.body, map[string]any{"endpointId": endpoint, "eventType": "invoice.paid", "recipientId": "customer_123"})
	// Ingest: a source that takes anything (its URL receives the sweep's bodies), a Stripe source
	// whose unsigned request opens a verification issue, a destination, an event and a replay.
	var src struct {
		SourceID string `json:"sourceId"`
		URL      string `json:"url"`
	}
	_, b := env.Do(t, "POST", "/api/v1/ingest/sources", `{"name":"Sweep","type":"none"}`, bearer...)
	if err := json.Unmarshal(b, &src); err != nil || src.URL == "" {
		t.Fatalf("fixture source: %v %s", err, b)
	}
	token := src.URL[strings.LastIndex(src.URL, "/")+1:]
	stripe := create("POST", "/api/v1/ingest/sources", `{"name":"Stripe","type":"stripe","secret":"whsec_sweep"}`, 201, "url")
	if status, b := env.Do(t, "POST", stripe[strings.Index(stripe, "/ingest/"):], `{"id":"evt_1"}`); status != 401 {
		t.Fatalf("fixture unsigned stripe request: %d %s", status, b)
	}
	destination := create("POST", "/api/v1/ingest/destinations",
		`{"name":"Sweep","url":"https://hooks.example.com/in","sourceIds":["`+src.SourceID+`"]}`, 201, "destinationId")
	event := create("POST", "/ingest/"+src.SourceID+"/"+token, `{"type":"invoice.paid"}`, 200, "eventId")
	ingestReplay := create("POST", "/api/v1/ingest/replays", `{"sourceId":"`+src.SourceID+`"}`, 202, "replayId")
	var issues struct {
		Data []struct {
			IssueID string `json:"issueId"`
		} `json:"data"`
	}
	_, b = env.Do(t, "GET", "/api/v1/ingest/issues", "", bearer...)
	if err := json.Unmarshal(b, &issues); err != nil || len(issues.Data) == 0 {
		t.Fatalf("fixture issue: %v %s", err, b)
	}
	maps.Copy(fx.path, map[string]string{
		"ingest sources/{sourceId}": src.SourceID, "ingest ingest/{sourceId}": src.SourceID, "ingest {sourceId}/{token}": token,
		"ingest destinations/{destinationId}": destination, "ingest events/{eventId}": event,
		"ingest replays/{replayId}": ingestReplay, "ingest issues/{issueId}": issues.Data[0].IssueID,
	})
	fx.body["sourceIds"] = []any{src.SourceID}
	fx.body["sourceId"] = src.SourceID
	return fx
}

// pathValue is the value of path parameter name of op: a fixture's, else one made from its
// schema.
func (fx *fixtures) pathValue(op *sweepOp, p *openapi3.Parameter) string {
	segs := strings.Split(op.path, "/")
	for i, s := range segs {
		if s == "{"+p.Name+"}" {
			before := ""
			if i > 0 {
				before = segs[i-1]
			}
			if v, ok := fx.path[op.surface+" "+before+"/"+s]; ok {
				return v
			}
		}
	}
	return fmt.Sprint(sample(p.Schema, 0))
}

// sweepCase is one request.
type sweepCase struct {
	op     *sweepOp
	name   string
	path   map[string]string // raw (escaped) path parameter values
	query  string            // raw query string
	header http.Header
	body   []byte // nil: none
	ctype  string
	expect string // for a value that must be refused: the field the 400 must name
}

type sweepResult struct {
	status int
	body   []byte
	err    error
	shape  error
}

func (c sweepCase) target(pathValues map[string]string) string {
	p := c.op.path
	for k, v := range pathValues {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	return c.op.prefix + p
}

func (c sweepCase) run(client *http.Client, base string) sweepResult {
	target := base + c.target(c.path)
	if c.query != "" {
		target += "?" + c.query
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(context.Background(), c.op.method, target, body)
	if err != nil {
		return sweepResult{err: fmt.Errorf("build request %s: %w", target, err)}
	}
	maps.Copy(req.Header, c.header)
	if c.body != nil {
		req.Header.Set("Content-Type", c.ctype)
	}
	resp, err := client.Do(req)
	if err != nil {
		return sweepResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return sweepResult{status: resp.StatusCode, err: err}
	}
	r := sweepResult{status: resp.StatusCode, body: b}
	// The answer is held to the operation the request was for, whatever its parameters.
	check, err := http.NewRequestWithContext(context.Background(), c.op.method, base+c.target(c.benignPath()), nil)
	if err == nil {
		err = c.op.spec.ValidateResponse(check, resp.StatusCode, resp.Header, b)
	}
	r.shape = err
	return r
}

func (c sweepCase) benignPath() map[string]string {
	out := map[string]string{}
	for k := range c.path {
		out[k] = "x"
	}
	for _, p := range c.op.params {
		if p.In == "path" {
			out[p.Name] = "x"
		}
	}
	return out
}

// cases are the requests sent to op: the valid request, then hostile variants of each
// parameter, each body field and the body as a whole.
func (op *sweepOp) cases(fx *fixtures) []sweepCase {
	auth := "Bearer " + fx.key
	if op.surface == "admin" {
		auth = "Bearer " + fx.admin
	}
	base := sweepCase{op: op, name: "valid", path: map[string]string{}, header: http.Header{"Authorization": {auth}}}
	query := url.Values{}
	for _, p := range op.params {
		switch p.In {
		case "path":
			base.path[p.Name] = url.PathEscape(fx.pathValue(op, p))
		case "query":
			if p.Required {
				query.Set(p.Name, fmt.Sprint(sample(p.Schema, 0)))
			}
		}
	}
	base.query = query.Encode()
	var bodySchema *openapi3.SchemaRef
	var bodyValue any
	// A body of any content type, kept as bytes (the Ingest API's receiving URL): every
	// hostile body is a payload like another, to be answered without a 5xx, not refused.
	rawBody := false
	_, public := op.op.Extensions["x-public"]
	if rb := op.op.RequestBody; rb != nil && rb.Value != nil {
		if _, ok := rb.Value.Content["*/*"]; ok && len(rb.Value.Content) == 1 {
			rawBody = true
			bodyValue = map[string]any{"type": "invoice.paid"}
			base.body = marshal(bodyValue)
			base.ctype = "application/json"
		} else if mt := rb.Value.Content.Get("application/json"); mt != nil {
			bodySchema = mt.Schema
			bodyValue = mt.Example
			if bodyValue == nil {
				bodyValue = sample(mt.Schema, 0)
			}
			bodyValue = fx.substitute(bodyValue)
			base.body = marshal(bodyValue)
			base.ctype = "application/json"
		}
	}
	out := []sweepCase{base}
	with := func(name, expect string, edit func(c *sweepCase, body any)) {
		c := base
		c.name, c.expect = name, expect
		c.path = maps.Clone(base.path)
		c.header = base.header.Clone()
		// Every case creates its own resource: the unique keys of the body are made unique.
		body := uniqueKeys(bodyValue, len(out), fx.body)
		if c.body != nil {
			c.body = marshal(body)
		}
		edit(&c, body)
		out = append(out, c)
	}
	for _, p := range op.params {
		for _, v := range paramVariants(p) {
			expect := ""
			// On a public URL (a source's receiving URL), a malformed id names no source: a 404,
			// as any URL that names nothing, not a 400 that would tell a scanner what ids look like.
			if v.refuse && !(public && p.In == "path") {
				expect = p.Name
			}
			if p.In == "header" || p.In == "cookie" {
				u, err := url.PathUnescape(v.raw)
				if err != nil || !validHeaderValue(u) {
					continue // not a value a client can send (Go's HTTP server refuses it before routing)
				}
				v.raw = u
			}
			with(p.In+"."+p.Name+"="+short(v.raw), expect, func(c *sweepCase, _ any) {
				switch p.In {
				case "path":
					c.path[p.Name] = v.raw
				case "query":
					q, _ := url.ParseQuery(base.query)
					q.Del(p.Name)
					c.query = strings.TrimPrefix(q.Encode()+"&"+url.QueryEscape(p.Name)+"="+v.raw, "&")
				case "header":
					c.header.Set(p.Name, v.raw)
				case "cookie":
					c.header.Add("Cookie", p.Name+"="+v.raw)
				}
			})
		}
		if s := schemaOf(p.Schema); p.In == "query" && s != nil && !s.Type.Is("array") {
			with("query."+p.Name+" repeated", p.Name, func(c *sweepCase, _ any) {
				v := url.QueryEscape(fmt.Sprint(sample(p.Schema, 0)))
				c.query = strings.TrimPrefix(base.query+"&"+p.Name+"="+v+"&"+p.Name+"="+v, "&")
			})
		}
	}
	if rawBody {
		for _, v := range bodyVariants() {
			with("raw body "+v.name, "", func(c *sweepCase, body any) {
				c.body = v.make(marshal(body))
				if v.ctype != "" {
					c.ctype = v.ctype
				}
			})
		}
		return out
	}
	if bodySchema == nil {
		return out
	}
	for _, f := range bodyFields(bodySchema, nil, nil, 0) {
		// The field a refusal must name: its own name, or its array's.
		name := ""
		for _, p := range f.path {
			if p != "0" {
				name = p
			}
		}
		// Inside a field whose strings are kept as sent, a NUL or bytes that are not UTF-8 are
		// accepted.
		raw := false
		for _, c := range f.chain {
			if v, _ := c.Value.Extensions[contract.RawStrings].(bool); v {
				raw = true
			}
		}
		for _, v := range fieldVariants(f.schema) {
			expect := ""
			if v.refuse && !(raw && v.text) {
				expect = name
			}
			with("body."+strings.Join(f.path, ".")+"="+short(v.name), expect, func(c *sweepCase, body any) {
				c.body = setField(body, f, v.raw)
			})
		}
	}
	required := op.op.RequestBody.Value.Required
	for _, v := range bodyVariants() {
		if v.name == "empty" && !required {
			continue // an optional body may be left out
		}
		with("body "+v.name, "", func(c *sweepCase, body any) {
			valid := marshal(body)
			if v.refuse {
				c.expect = "body"
				if v.names != nil {
					c.expect = v.names(valid)
				}
			}
			c.body = v.make(valid)
			if v.ctype != "" {
				c.ctype = v.ctype
			}
		})
	}
	return out
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// uniqueFields are the body fields that name a resource uniquely (a second create with the
// same value is a 409).
var uniqueFields = map[string]bool{"idempotency_key": true, "external_id": true, "code": true, "recipientId": true,
	"reseller_id": true, "template": true, "idempotencyKey": true, "name": true, "platformId": false}

// uniqueKeys returns v with the string values of its unique fields suffixed by n, in letters
// of the value's case (codes are upper case), but for those naming a fixture.
func uniqueKeys(v any, n int, fixture map[string]any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if _, ref := fixture[k]; ref {
				out[k] = e
				continue
			}
			if s, ok := e.(string); ok && uniqueFields[k] && n > 0 {
				suffix := ""
				for m := n; m > 0; m /= 26 {
					suffix = string(rune('a'+m%26)) + suffix
				}
				if strings.ToUpper(s) == s {
					suffix = strings.ToUpper(suffix)
				}
				out[k] = s + "_" + suffix
				continue
			}
			out[k] = uniqueKeys(e, n, fixture)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = uniqueKeys(e, n, fixture)
		}
		return out
	}
	return v
}

// substitute replaces id fields of an example body by the fixtures'.
func (fx *fixtures) substitute(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if f, ok := fx.body[k]; ok {
				out[k] = f
				continue
			}
			out[k] = fx.substitute(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fx.substitute(e)
		}
		return out
	}
	return v
}

func short(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%.16s…(%d bytes)", s, len(s))
	}
	return s
}

func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}

// paramVariant is a hostile parameter value, escaped as it goes in a URL; refuse says it must
// be answered 400 naming the parameter.
type paramVariant struct {
	raw    string
	refuse bool
}

// paramVariants are hostile values for a parameter.
func paramVariants(p *openapi3.Parameter) []paramVariant {
	refused := func(raws ...string) []paramVariant {
		out := make([]paramVariant, len(raws))
		for i, r := range raws {
			out[i] = paramVariant{raw: r, refuse: true}
		}
		return out
	}
	others := func(raws ...string) []paramVariant {
		out := make([]paramVariant, len(raws))
		for i, r := range raws {
			out[i] = paramVariant{raw: r}
		}
		return out
	}
	out := append(refused("%00", "a%00b", "%FF", "%ED%A0%80", "%C0%AF"), others(strings.Repeat("a", 5000))...)
	s := schemaOf(p.Schema)
	if s == nil {
		return out
	}
	switch {
	case s.Type.Is("integer") || s.Type.Is("number"):
		out = append(out, refused("abc", "1.5", "2147483648", "-2147483649", "9223372036854775808",
			"99999999999999999999999", "1e400")...)
		out = append(out, others("1e0", "-1", "0", "")...)
	case s.Type.Is("boolean"):
		out = append(out, refused("maybe", "2")...)
		out = append(out, others("")...)
	case s.Type.Is("array"):
		out = append(out, others(strings.Repeat("a,", 2000)+"a")...)
	default:
		out = append(out, others("00000000-0000-0000-0000-000000000000", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
			"10000-01-01T00:00:00Z", "-1", "2147483648", "..", "%F0%9F%98%80")...)
	}
	return out
}

// field is a body field: where it is and its schema, and the schemas of the values on the way
// (chain[i] is the schema at path[:i+1]), to fill in a parent the valid body lacks.
type field struct {
	path   []string
	schema *openapi3.Schema
	chain  []*openapi3.SchemaRef
}

// bodyFields lists the fields of a body schema, nested objects and the first item of arrays
// included, down to a depth of 3.
func bodyFields(ref *openapi3.SchemaRef, path []string, chain []*openapi3.SchemaRef, depth int) []field {
	s := schemaOf(ref)
	if s == nil || depth > 3 {
		return nil
	}
	var out []field
	props := properties(s)
	for _, name := range slices.Sorted(maps.Keys(props)) {
		p := append(slices.Clone(path), name)
		c := append(slices.Clone(chain), props[name])
		ps := schemaOf(props[name])
		if ps == nil || ps.Extensions["x-alias-of"] != nil {
			// A deprecated alias (x-alias-of) is its field under another name, swept as that
			// field; the base body already holds the field, so setting the alias too is a
			// different request (both spellings at once, refused as such).
			continue
		}
		out = append(out, field{path: p, schema: ps, chain: c})
		switch {
		case ps.Type.Is("object") || len(properties(ps)) > 0:
			out = append(out, bodyFields(props[name], p, c, depth+1)...)
		case ps.Type.Is("array") && ps.Items != nil:
			item := append(slices.Clone(p), "0")
			ic := append(slices.Clone(c), ps.Items)
			if is := schemaOf(ps.Items); is != nil {
				out = append(out, field{path: item, schema: is, chain: ic})
				out = append(out, bodyFields(ps.Items, item, ic, depth+1)...)
			}
		}
	}
	return out
}

func schemaOf(ref *openapi3.SchemaRef) *openapi3.Schema {
	if ref == nil {
		return nil
	}
	return ref.Value
}

// properties are a schema's properties, those of its allOf members included.
func properties(s *openapi3.Schema) openapi3.Schemas {
	out := openapi3.Schemas{}
	maps.Copy(out, s.Properties)
	for _, a := range s.AllOf {
		if a.Value != nil {
			maps.Copy(out, properties(a.Value))
		}
	}
	return out
}

// variant is a hostile JSON value, as raw JSON; refuse says it must be answered 400 naming the
// field (text: because of a character a RawStrings field keeps).
type variant struct {
	name   string
	raw    []byte
	refuse bool
	text   bool
}

func fieldVariants(s *openapi3.Schema) []variant {
	v := func(name, raw string) variant { return variant{name: name, raw: []byte(raw)} }
	refused := func(name, raw string) variant { return variant{name: name, raw: []byte(raw), refuse: true} }
	text := func(name, raw string) variant { return variant{name: name, raw: []byte(raw), refuse: true, text: true} }
	out := []variant{
		v("null", `null`), text("NUL", `"a\u0000b"`), text("lone surrogate", `"\ud800"`),
		text("invalid UTF-8", "\"a\xffb\""), v("deep", strings.Repeat("[", 200)+strings.Repeat("]", 200)),
	}
	typ := ""
	if s.Type != nil && len(s.Type.Slice()) > 0 {
		typ = s.Type.Slice()[0]
	}
	for _, a := range s.AllOf {
		if a.Value != nil && a.Value.Type != nil && typ == "" && len(a.Value.Type.Slice()) > 0 {
			typ = a.Value.Type.Slice()[0]
		}
	}
	switch typ {
	case "number":
		out = append(out, refused("string", `"1"`), v("1.5", `1.5`), v("-1", `-1`), v("1e308", `1e308`), refused("1e400", `1e400`))
	case "integer":
		out = append(out, refused("string", `"1"`), v("1e0", `1e0`), refused("1.5", `1.5`), v("-1", `-1`),
			refused("int32+1", `2147483648`), refused("-int32-1", `-2147483649`), refused("int64+1", `9223372036854775808`),
			refused("1e20", `1e20`), refused("1e400", `1e400`))
	case "boolean":
		out = append(out, refused("string", `"true"`), refused("number", `1`))
	case "array":
		out = append(out, refused("object", `{}`), v("huge", "["+strings.Repeat(`"a",`, 11000)+`"a"]`),
			text("NUL item", `["a\u0000"]`), v("huge ints", "["+strings.Repeat(`99999999999,`, 2000)+`1]`))
	case "object":
		var b strings.Builder
		b.WriteString("{")
		for i := range 1000 {
			fmt.Fprintf(&b, `"k%d":1,`, i)
		}
		b.WriteString(`"k":1}`)
		out = append(out, refused("array", `[]`), v("many keys", b.String()), text("NUL key", `{"a\u0000":1}`),
			text("NUL value", `{"a":"\u0000"}`), refused("string", `"x"`))
	default: // strings
		out = append(out, v("number", `1`), v("huge", `"`+strings.Repeat("a", 20000)+`"`), v("empty", `""`),
			v("nil uuid", `"00000000-0000-0000-0000-000000000000"`), v("year 9999", `"9999-12-31T23:59:59.999Z"`),
			v("year 1", `"0001-01-01T00:00:00Z"`), v("object", `{}`), v("C0 controls", `"a\u0001\u001fb"`))
	}
	return out
}

// bodyVariant is a hostile form of a whole body, made from the valid one.
type bodyVariant struct {
	name   string
	make   func(valid []byte) []byte
	ctype  string
	refuse bool
	names  func(valid []byte) string // the field a refusal names, when not "body"
}

// bodyVariants are hostile forms of the whole body.
func bodyVariants() []bodyVariant {
	fixed := func(name, raw string) bodyVariant {
		return bodyVariant{name: name, make: func([]byte) []byte { return []byte(raw) }, refuse: true}
	}
	made := func(name string, f func(valid []byte) []byte) bodyVariant {
		return bodyVariant{name: name, make: f, refuse: true}
	}
	return []bodyVariant{
		made("trailing garbage", func(b []byte) []byte { return append(slices.Clone(b), " garbage"...) }),
		made("two documents", func(b []byte) []byte { return append(slices.Clone(b), b...) }),
		made("trailing comma", func(b []byte) []byte { return append(bytes.TrimSuffix(slices.Clone(b), []byte("}")), ",}"...) }),
		{name: "duplicate key", refuse: true, make: func(b []byte) []byte {
			// The first field of the valid body, given again with another value.
			k := firstKey(b)
			if k == "" {
				return []byte(`{"a":1,"a":2}`)
			}
			return append(bytes.TrimSuffix(slices.Clone(b), []byte("}")), fmt.Sprintf(`,%q:{}}`, k)...)
		}, names: func(b []byte) string {
			if k := firstKey(b); k != "" {
				return k
			}
			return "a"
		}},
		made("BOM", func(b []byte) []byte { return append([]byte("\xef\xbb\xbf"), b...) }),
		fixed("empty", ""), {name: "null", make: func([]byte) []byte { return []byte("null") }},
		fixed("array", "[]"), fixed("string", `"x"`), fixed("not JSON", "{nope"),
		fixed("invalid UTF-8", "\xff\xfe"), fixed("NUL byte", "\x00"), fixed("NUL key", `{"\u0000":1}`),
		{name: "deep", refuse: true, make: func([]byte) []byte {
			return []byte(strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000))
		}, names: func([]byte) string { return "a" }},
		{name: "too large", make: func([]byte) []byte { return []byte(`{"a":"` + strings.Repeat("a", 1<<20) + `"}`) }},
		{name: "text/plain", make: func(b []byte) []byte { return b }, ctype: "text/plain"},
		{name: "form", make: func([]byte) []byte { return []byte("a=1") }, ctype: "application/x-www-form-urlencoded"},
	}
}

// firstKey is the first key, in order, of a JSON object; "" for anything else.
func firstKey(b []byte) string {
	var m map[string]json.RawMessage
	if len(b) < 2 || b[0] != '{' || json.Unmarshal(b, &m) != nil || len(m) == 0 {
		return ""
	}
	return slices.Sorted(maps.Keys(m))[0]
}

// setField returns body with field f set to raw JSON, its parents made valid where the body
// has none.
func setField(body any, f field, raw []byte) []byte {
	const mark = "\x00sweep-mark\x00"
	var set func(v any, k int) any
	set = func(v any, k int) any {
		if k == len(f.path) {
			return mark
		}
		if v == nil && k > 0 {
			v = sample(f.chain[k-1], 0)
		}
		path := f.path[k:]
		if path[0] == "0" {
			arr, _ := v.([]any)
			arr = slices.Clone(arr)
			if len(arr) == 0 {
				arr = []any{nil}
			}
			arr[0] = set(arr[0], k+1)
			return arr
		}
		m, _ := v.(map[string]any)
		m = maps.Clone(m)
		if m == nil {
			m = map[string]any{}
		}
		m[path[0]] = set(m[path[0]], k+1)
		return m
	}
	b, _ := json.Marshal(set(body, 0))
	markJSON, _ := json.Marshal(mark)
	return bytes.Replace(b, markJSON, raw, 1)
}

// sample is a valid value of a schema, as far as one can be made without knowing more:
// its example, default or first enum value, else one of its type.
func sample(ref *openapi3.SchemaRef, depth int) any {
	s := schemaOf(ref)
	if s == nil {
		return "x"
	}
	switch {
	case s.Example != nil:
		return s.Example
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	}
	for _, a := range append(append(slices.Clone(s.AllOf), s.OneOf...), s.AnyOf...) {
		if s.Type == nil || a.Value != nil && len(properties(a.Value)) > 0 {
			return sample(a, depth)
		}
	}
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0:
		out := map[string]any{}
		if depth > 4 {
			return out
		}
		props := properties(s)
		for _, name := range s.Required {
			out[name] = sample(props[name], depth+1)
		}
		if len(out) == 0 && s.MinProps > 0 && len(props) > 0 {
			name := slices.Sorted(maps.Keys(props))[0]
			out[name] = sample(props[name], depth+1)
		}
		return out
	case s.Type.Is("array"):
		if s.MinItems > 0 {
			return []any{sample(s.Items, depth+1)}
		}
		return []any{}
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1
	case s.Type.Is("boolean"):
		return true
	}
	switch s.Format {
	case "uuid":
		return "0190b9c4-d2e0-7a8c-9f1e-2d3c4b5a6978"
	case "date-time":
		return "2026-01-01T00:00:00Z"
	case "email":
		return "a@example.com"
	case "uri", "url":
		return "https://example.com/"
	}
	return "sweep"
}
