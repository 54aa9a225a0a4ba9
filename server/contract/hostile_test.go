package contract

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	cases := []struct {
		body  string
		field string // of the one problem expected; "" = none
		msg   string // in its message
	}{
		{`{"a":1,"b":[true,false,null,"x",-0.5e+3,{}],"c":{"d":"\u00e9\ud83d\ude00"}}`, "", ""},
		{" \n{\"a\":1}\r\n\t", "", ""},
		{``, "", ""},
		{`{"a":1} garbage`, "body", "single JSON value"},
		{`{"a":1}{"a":1}`, "body", "single JSON value"},
		{`{"a":1}}`, "body", "single JSON value"},
		{`{"a":1,}`, "body", "not valid JSON"},
		{`{"a":01}`, "body", "not valid JSON"},
		{`{"a":"x` + "\x01" + `"}`, "body", "not valid JSON"},
		{`{"a":1,"b":2,"a":3}`, "a", "more than once"},
		{`{"a":1,"\u0061":2}`, "a", "more than once"},
		{`{"x":{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k5":0}}`, "x.k5", "more than once"},
		{`{"a":[{"b":1},{"b":2}]}`, "", ""},
		{`{"name":"a\u0000b"}`, "name", "NUL"},
		{`{"attributes":[{"key":"k"},{"key":"\u0000"}]}`, "attributes.1.key", "NUL"},
		{`{"meta":{"a\u0000":1}}`, "meta", "key containing the NUL"},
		{`{"name":"\ud800"}`, "name", "unpaired"},
		{`{"name":"\udc00\ud800"}`, "name", "unpaired"},
		{`{"name":"\ud800x"}`, "name", "unpaired"},
		{"{\"name\":\"a\xffb\"}", "name", "not UTF-8"},
		{"{\"name\":\"\xed\xa0\x80\"}", "name", "not UTF-8"},
		{"{\"na\xc0me\":1}", "body", "key containing bytes that are not UTF-8"},
		{`{"a":` + deep(MaxJSONDepth-1) + `}`, "", ""},
		{`{"a":` + deep(MaxJSONDepth) + `}`, "a" + strings.Repeat(".0", MaxJSONDepth-1), "deeper than 128"},
		{deep(100000), strings.TrimPrefix(strings.Repeat(".0", MaxJSONDepth), "."), "deeper than 128"},
		// Fields of RawStrings keep any string; duplicate keys and syntax are still checked.
		{`{"data":{"a\u0000":"\u0000\ud800` + "\xff" + `"},"items":[{"raw":"\u0000"}]}`, "", ""},
		{`{"data":{"a":1,"a":2}}`, "data.a", "more than once"},
		{`{"items":[{"raw":"x","other":"\u0000"}]}`, "items.0.other", "NUL"},
		{`{"data2":"\u0000"}`, "data2", "NUL"},
	}
	for _, c := range cases {
		got := checkJSON([]byte(c.body), [][]string{{"data"}, {"items", "*", "raw"}})
		switch {
		case c.field == "" && len(got) != 0:
			t.Errorf("%.80q: %v, want none", c.body, got)
		case c.field != "" && (len(got) != 1 || got[0].Field != c.field || !strings.Contains(got[0].Message, c.msg)):
			t.Errorf("%.80q: %v, want one for %s saying %q", c.body, got, c.field, c.msg)
		}
	}
	// Every bad value is listed, up to maxDetails.
	var b strings.Builder
	b.WriteString("[")
	for i := range 500 {
		fmt.Fprintf(&b, `"\u0000%d",`, i)
	}
	b.WriteString(`"ok"]`)
	if got := checkJSON([]byte(b.String()), nil); len(got) != maxDetails || got[3].Field != "3" {
		t.Errorf("%d problems, the 4th %v; want %d", len(got), got[3], maxDetails)
	}
}

// TestValidateRefusesWhatSchemasCannot sends parameters and bodies a schema would let through
// and the database or the handlers could not take; each is a 400 naming the field, and the
// handler never runs.
func TestValidateRefusesWhatSchemasCannot(t *testing.T) {
	t.Parallel()
	const id = "/v1/things/5d5e0f3c-6f3a-4a47-8a3e-0c1d2b3a4f5e"
	const valid = `{"dispatch_provider_id":"x","kind":"a"}`
	cases := []struct {
		name, target, body string
		field              string
	}{
		{"NUL in a query parameter", id + "?q=a%00b", valid, "query.q"},
		{"invalid UTF-8 in a query parameter", id + "?q=%FF", valid, "query.q"},
		{"a surrogate in a query parameter", id + "?q=%ED%A0%80", valid, "query.q"},
		{"NUL in a path parameter", "/v1/things/a%00b/parts/c", "", "path.id"},
		{"invalid UTF-8 in a path parameter", "/v1/things/a/parts/%C0%AF", "", "path.part"},
		{"a single-valued query parameter twice", id + "?limit=1&limit=2", valid, "query.limit"},
		{"1e0 for an integer parameter", id + "?limit=1e0", valid, "query.limit"},
		{"trailing bytes", id, valid + " garbage", "body"},
		{"two documents", id, valid + valid, "body"},
		{"a duplicate key", id, `{"dispatch_provider_id":"x","kind":"a","kind":"b"}`, "kind"},
		{"NUL in a body string", id, `{"dispatch_provider_id":"x\u0000","kind":"a"}`, "dispatch_provider_id"},
	}
	for _, c := range cases {
		method := "POST"
		if c.body == "" {
			method = "GET"
		}
		p, reached := serve(t, false, method, c.target, c.body)
		if reached || p == nil || p.Status != 400 || len(p.Details) != 1 || p.Details[0].Field != c.field {
			t.Errorf("%s: reached=%v problem=%v, want a 400 naming %s", c.name, reached, p, c.field)
		}
	}
	// Repeating a list parameter is how a list is sent.
	if p, reached := serve(t, false, "POST", id+"?tags=a&tags=b", valid); p != nil || !reached {
		t.Errorf("a list parameter given twice: %v", p)
	}
}

// TestValidationIsLinear validates bodies whose allOf object holds n and 4n unknown keys (as
// telephony_config could): kin-openapi rendered every error's message with the whole value in
// it, quadratic in the keys (4,000 took 7.7 s). Validating 4n keys must cost about 4 times n's,
// not 16 (the best of three runs each, so a busy machine weighs on both); at most maxDetails
// problems are listed.
func TestValidationIsLinear(t *testing.T) {
	t.Parallel()
	s, err := Load([]byte(spec), "/v1")
	if err != nil {
		t.Fatal(err)
	}
	s.BodyLimit = 1 << 20
	validate := func(keys int) (*problem.Problem, time.Duration) {
		var b strings.Builder
		b.WriteString(`{"dispatch_provider_id":"x","kind":"a","config":{`)
		for i := range keys {
			fmt.Fprintf(&b, `"k%d":1,`, i)
		}
		b.WriteString(`"app_id":"x"}}`)
		req := httptest.NewRequest("POST", "/v1/things/5d5e0f3c-6f3a-4a47-8a3e-0c1d2b3a4f5e", strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/json")
		c := echo.New().NewContext(req, httptest.NewRecorder())
		started := time.Now()
		err := s.Match()(s.Validate()(func(echo.Context) error { return nil }))(c)
		return problem.From(err), time.Since(started)
	}
	best := func(keys int) time.Duration {
		least := time.Duration(1<<63 - 1)
		for range 3 {
			_, d := validate(keys)
			least = min(least, d)
		}
		return least
	}
	// Quadratic validation takes minutes here; give up long before (linear takes milliseconds).
	measured := make(chan [2]time.Duration, 1)
	// 8 times the keys: linear is 8 times as long, quadratic 64 times. The bound between them
	// leaves room for a loaded machine (at 4 times the keys and a bound of 8, a CI run under
	// load measured 8.7 for linear code).
	go func() { measured <- [2]time.Duration{best(2500), best(20000)} }()
	select {
	case d := <-measured:
		if small, large := d[0], d[1]; large > 24*small {
			t.Errorf("8 times the keys took %.1f times as long (%s, %s): not linear", float64(large)/float64(small), small, large)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("validating 2,500 and 20,000 unknown keys, three times each, took over 30 s")
	}
	p, _ := validate(20000)
	if p.Status != 400 || len(p.Details) != maxDetails+1 || !strings.Contains(p.Details[maxDetails].Message, "19900 more") {
		t.Errorf("%d, %d details, the last %v", p.Status, len(p.Details), p.Details[len(p.Details)-1])
	}
}
