package eventfilter_test

import (
	"encoding/json"
	"testing"

	"github.com/switchboard-dev/switchboard/server/eventfilter"
)

// TestBodyFilter: the simple JSON match syntax, with the examples of Hookdeck's
// simple-json-match readme and each operator both ways.
func TestBodyFilter(t *testing.T) {
	t.Parallel()
	order := `{"type":"order/created","order":{"id":123,"items":[{"id":456,"title":"My product"}]},
		"product":{"title":"Gift Card","inventory":5,"tags":["gift","something","another"]},"note":null,"email":"ann@example.com"}`
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{`{"type":"order/created"}`, true},
		{`{"type":"order/updated"}`, false},
		{`{"product":{"inventory":5}}`, true},
		{`{"product":{"inventory":"5"}}`, false},
		{`{"product":{"tags":"gift"}}`, true},
		{`{"product":{"tags":["gift","something"]}}`, true},
		{`{"product":{"tags":["gift","nothing"]}}`, false},
		{`{"order":{"items":{"id":456}}}`, true},
		{`{"order":{"items":{"id":789}}}`, false},
		{`{"product":{"inventory":{"$lte":10}}}`, true},
		{`{"product":{"inventory":{"$lt":5}}}`, false},
		{`{"product":{"inventory":{"$gte":5,"$lt":6}}}`, true},
		{`{"product":{"inventory":{"$gt":5}}}`, false},
		{`{"product":{"inventory":{"$or":[1,5]}}}`, true},
		{`{"$or":[{"type":"a"},{"type":"b"}]}`, false},
		{`{"$or":[{"type":"a"},{"type":"order/created"}]}`, true},
		{`{"$and":[{"type":"order/created"},{"product":{"inventory":5}}]}`, true},
		{`{"$and":[{"type":"order/created"},{"product":{"inventory":6}}]}`, false},
		{`{"type":{"$not":"order/created"}}`, false},
		{`{"$not":{"type":"order/updated"}}`, true},
		{`{"type":{"$eq":"order/created"}}`, true},
		{`{"type":{"$neq":"order/created"}}`, false},
		{`{"order":{"$eq":{"id":123,"items":[{"id":456,"title":"My product"}]}}}`, true},
		{`{"type":{"$in":["order/created","order/paid"]}}`, true},
		{`{"type":{"$nin":["order/created","order/paid"]}}`, false},
		{`{"type":{"$in":"order"}}`, true},
		{`{"product":{"tags":{"$in":"gift"}}}`, true},
		{`{"product":{"tags":{"$nin":"gift"}}}`, false},
		{`{"email":{"$startsWith":"ann@"}}`, true},
		{`{"email":{"$endsWith":"@example.org"}}`, false},
		{`{"note":{"$exist":true}}`, true},
		{`{"note":null}`, true},
		{`{"missing":{"$exist":false}}`, true},
		{`{"missing":{"$exist":true}}`, false},
		{`{"missing":null}`, false},
		{`{"missing":{"$neq":1}}`, true},
		{`{"email":{"$gt":5}}`, false},
		{`{}`, true},
	} {
		f, problems := eventfilter.Compile(json.RawMessage(c.filter))
		if problems != nil {
			t.Fatalf("%s: %v", c.filter, problems)
		}
		body, ok := eventfilter.ParseBody("application/json", []byte(order))
		if got := f.Matches(body, ok); got != c.want {
			t.Errorf("%s: got %v, want %v", c.filter, got, c.want)
		}
	}
}

// TestBodyFilterProblems: a filter with unknown operators or wrong operands is refused, each
// problem at its path.
func TestBodyFilterProblems(t *testing.T) {
	t.Parallel()
	_, problems := eventfilter.Compile(json.RawMessage(`{"a":{"$like":"x"},"b":{"$gt":true},"c":{"$or":[]},"d":{"$exist":1},"e":{"$in":5}}`))
	want := map[string]bool{"a.$like": true, "b.$gt": true, "c.$or": true, "d.$exist": true, "e.$in": true}
	if len(problems) != len(want) {
		t.Fatalf("problems %v", problems)
	}
	for _, p := range problems {
		if !want[p.Path] {
			t.Errorf("unexpected problem %v", p)
		}
	}
	if _, problems := eventfilter.Compile(json.RawMessage(`{"a":`)); len(problems) != 1 {
		t.Errorf("invalid JSON: %v", problems)
	}
}

// TestFormBody: a form-encoded body (Twilio's) is filtered as an object of its fields.
func TestFormBody(t *testing.T) {
	t.Parallel()
	body, ok := eventfilter.ParseBody("application/x-www-form-urlencoded; charset=utf-8", []byte("From=%2B1415&Body=STOP&Tag=a&Tag=b"))
	f, _ := eventfilter.Compile(json.RawMessage(`{"Body":{"$in":["STOP","UNSUBSCRIBE"]},"Tag":"b","From":{"$startsWith":"+1"}}`))
	if !f.Matches(body, ok) {
		t.Errorf("form body %v does not match", body)
	}
	raw, ok := eventfilter.ParseBody("application/octet-stream", []byte{0xff, 0x00})
	if f.Matches(raw, ok) || !(*eventfilter.Body)(nil).Matches(raw, ok) {
		t.Error("a body that is not JSON must match no filter but the empty one")
	}
}

// TestTypeMatches: event-type patterns.
func TestTypeMatches(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		patterns []string
		typ      string
		want     bool
	}{
		{nil, "", true},
		{nil, "invoice.paid", true},
		{[]string{"invoice.*"}, "invoice.paid", true},
		{[]string{"invoice.*"}, "invoice.payment.failed", true},
		{[]string{"invoice.*"}, "invoiced", false},
		{[]string{"invoice.*"}, "", false},
		{[]string{"customer.created", "*.deleted"}, "product.deleted", true},
		{[]string{"pull_request.*"}, "pull_request.opened", true},
		{[]string{"orders/create"}, "orders/create", true},
		{[]string{"orders/*"}, "products/create", false},
		{[]string{"*"}, "anything", true},
	} {
		if got := eventfilter.TypeMatches(c.patterns, c.typ); got != c.want {
			t.Errorf("%v %q: got %v", c.patterns, c.typ, got)
		}
	}
}
