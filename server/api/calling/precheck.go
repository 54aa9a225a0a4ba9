package calling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/calling"
	"github.com/switchboard-dev/switchboard/server/egress"
	"github.com/switchboard-dev/switchboard/store"
)

// maxAnswer bounds how much of a pre-check's answer is read (a longer one is cut, and then
// is not JSON).
const maxAnswer = 1 << 20

// checked is one pre-check's outcome, and in words why it decided what it did.
type checked struct {
	outcome api.PreCheckOutcome
	why     string
}

// runPreChecks runs the configuration's enabled pre-checks concurrently and returns their
// outcomes in configuration order.
func (h *Handler) runPreChecks(ctx context.Context, c store.CallingConfig, b *api.DecisionRequest) []checked {
	vars := map[string]string{}
	if b.Payload != nil {
		for k, v := range *b.Payload {
			vars[k] = text(v)
		}
	}
	// The call's own values win over a payload key of the same name.
	vars["number"], vars["direction"], vars["config_id"] = b.Number, string(b.Direction), c.ID
	vars["reseller_id"], vars["template"], vars["merchant_id"] = c.ResellerID, c.Template, or(c.MerchantID, "")

	out := make([]checked, len(c.PreChecks))
	var wg sync.WaitGroup
	for i, pc := range c.PreChecks {
		switch {
		case !pc.Enabled:
			out[i] = checked{outcome: skipped(pc.Name, api.Disabled)}
		case pc.HTTPRequest == nil:
			// The seed's pre-check has no http_request: stored, and never blocks.
			out[i] = checked{outcome: skipped(pc.Name, api.NotConfigured)}
			out[i].outcome.Action = nullable.NewNullableWithValue(actionProceed)
		default:
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = h.runPreCheck(ctx, pc, vars)
			}()
		}
	}
	wg.Wait()
	return out
}

// runPreCheck makes a pre-check's HTTP call — up to max_retries times for a transport error,
// timeout, 429 or 5xx — and judges the answer: proceed when response_field equals
// response_field_value, skip otherwise; a call that fails decides default_on_failure.
func (h *Handler) runPreCheck(ctx context.Context, pc store.PreCheck, vars map[string]string) (res checked) {
	started := time.Now()
	defer func() { res.outcome.DurationMs = int(time.Since(started).Milliseconds()) }()
	r := pc.HTTPRequest
	res = checked{outcome: skipped(pc.Name, api.Failed)}
	var answer []byte
	var failure string
	for res.outcome.Attempts < max(1, r.MaxRetries) {
		res.outcome.Attempts++
		status, body, err := h.call(ctx, r, vars)
		if status != 0 {
			res.outcome.StatusCode = nullable.NewNullableWithValue(status)
		}
		retry := true
		switch {
		case err != nil:
			failure = err.Error()
			var perm permanent
			retry = !errors.As(err, &perm)
		case status >= 200 && status < 300:
			answer, failure = body, ""
		default:
			failure = fmt.Sprintf("answered HTTP %d", status)
			retry = status == http.StatusTooManyRequests || status >= 500
		}
		if failure == "" || !retry || ctx.Err() != nil {
			break
		}
	}
	fail := func(why string) checked {
		res.outcome.Outcome = api.Failed
		res.outcome.Error = nullable.NewNullableWithValue(why)
		res.outcome.Action = nullable.NewNullableWithValue(string(pc.DefaultOnFailure))
		res.why = fmt.Sprintf("the call failed (%s) and default_on_failure is %s", why, pc.DefaultOnFailure)
		return res
	}
	if failure != "" {
		return fail(failure)
	}
	if pc.ResponseConfig == nil {
		res.outcome.Outcome = api.Fetched
		res.outcome.Action = nullable.NewNullableWithValue(actionProceed)
		return res
	}
	var doc any
	if err := json.Unmarshal(answer, &doc); err != nil {
		return fail("the answer is not JSON")
	}
	field := pc.ResponseConfig.ResponseField
	got, _ := lookup(doc, field)
	var want any
	_ = json.Unmarshal(pc.ResponseConfig.ResponseFieldValue, &want) // stored by us as JSON
	gotJSON, _ := json.Marshal(got)
	if reflect.DeepEqual(got, want) {
		res.outcome.Outcome = api.Matched
		res.outcome.Action = nullable.NewNullableWithValue(actionProceed)
		res.why = fmt.Sprintf("%s returned %s=%s", pc.Name, field, gotJSON)
		return res
	}
	res.outcome.Outcome = api.NotMatched
	res.outcome.Action = nullable.NewNullableWithValue(actionSkip)
	res.why = fmt.Sprintf("%s returned %s=%s, not %s", pc.Name, field, gotJSON, pc.ResponseConfig.ResponseFieldValue)
	return res
}

// permanent marks a failure trying again cannot fix (a URL that does not parse).
type permanent struct{ error }

// call makes one attempt, bounded by the pre-check's timeout.
func (h *Handler) call(ctx context.Context, r *store.PreCheckHTTPRequest, vars map[string]string) (int, []byte, error) {
	u, err := url.Parse(substitute(r.URL, vars, pathValue))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return 0, nil, permanent{fmt.Errorf("the URL is not an http(s) URL once placeholders are replaced")}
	}
	if len(r.QueryParams) > 0 {
		q := u.Query()
		for k, v := range r.QueryParams {
			q.Set(k, substitute(v, vars, nil))
		}
		u.RawQuery = q.Encode()
	}
	req := egress.Request{Method: r.Method, URL: u.String(), Header: http.Header{"Accept": {"application/json"}}}
	if r.Body != nil {
		b, err := json.Marshal(substituteAll(r.Body, vars))
		if err != nil {
			return 0, nil, permanent{err}
		}
		req.Body = b
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Headers {
		req.Header.Set(k, substitute(v, vars, nil))
	}
	if a := r.Auth; a != nil {
		switch a.Type {
		case "bearer":
			req.Header.Set("Authorization", "Bearer "+substitute(a.Token, vars, nil))
		case "basic":
			req.Username, req.Password = substitute(a.Username, vars, nil), substitute(a.Password, vars, nil)
		}
	}
	timeout := time.Duration(max(1, r.Timeout)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := h.Client.Do(ctx, req)
	var invalid *egress.InvalidURLError
	var broken *egress.ReadError
	switch {
	case err == nil:
		return resp.StatusCode, resp.Body, nil
	case errors.As(err, &invalid):
		return 0, nil, permanent{err}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return status, nil, fmt.Errorf("timed out after %s", timeout)
	case errors.As(err, &broken):
		return resp.StatusCode, nil, err
	}
	return 0, nil, fmt.Errorf("request failed: %w", errors.Unwrap(err))
}

var placeholder = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_.-]*)\}`)

// substitute replaces {name} by vars[name] (escaped by escape, when given); unknown names stay.
func substitute(s string, vars map[string]string, escape func(string) string) string {
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := vars[m[1:len(m)-1]]
		if !ok {
			return m
		}
		if escape != nil {
			return escape(v)
		}
		return v
	})
}

// pathValue escapes a value for any part of a URL: "+" and spaces survive both a path and a
// query string.
func pathValue(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// substituteAll replaces placeholders in every string of a JSON value.
func substituteAll(v any, vars map[string]string) any {
	switch t := v.(type) {
	case string:
		return substitute(t, vars, nil)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = substituteAll(x, vars)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = substituteAll(x, vars)
		}
		return out
	}
	return v
}

// lookup follows a dot path ("data.is_dnd", "items.0.ok") into a decoded JSON document.
func lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, part := range strings.Split(path, ".") {
		switch t := cur.(type) {
		case map[string]any:
			v, ok := t[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			cur = t[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// text renders a payload value for a placeholder: strings as they are, anything else as JSON.
func text(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
