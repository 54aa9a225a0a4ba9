package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/contract"
	"github.com/switchboard-dev/switchboard/server/problem"
)

// BenchmarkValidateWorstBody validates, for every operation of every spec that takes a JSON
// body, the slowest to validate of a few bodies as large as the operation accepts: the valid
// body with its top level, or one of its objects, padded with unknown keys (4,000 of them in
// telephony_config took 7.7 s when validation was quadratic), or one of its arrays filled with
// copies of an item. Each is measured on a 64 KiB version first; the slowest per byte is run at
// full size. MB/s is the figure to watch: a quadratic path shows as one operation far below
// the others.
func BenchmarkValidateWorstBody(b *testing.B) {
	fx := &fixtures{path: map[string]string{}, body: map[string]any{}}
	for _, op := range sweepOperations(b) {
		rb := op.op.RequestBody
		if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil {
			continue
		}
		limit := int(contract.DefaultBodyLimit)
		if v, ok := op.op.Extensions["x-max-body-bytes"].(float64); ok && v > 0 {
			limit = int(v)
		}
		worst, perByte := worstBody(op, fx, 64<<10)
		body := worst(limit - 64)
		b.Run(fmt.Sprintf("%s/%s", op.surface, op.op.OperationID), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportMetric(float64(perByte.Nanoseconds()), "ns/probe-byte")
			for b.Loop() {
				validateOnce(b, op, body)
			}
		})
	}
}

// worstBody returns the maker of the slowest of op's hostile bodies (given its size), and its
// time per byte at probe bytes.
func worstBody(op *sweepOp, fx *fixtures, probe int) (func(size int) []byte, time.Duration) {
	mt := op.op.RequestBody.Value.Content.Get("application/json")
	base := mt.Example
	if base == nil {
		base = sample(mt.Schema, 0)
	}
	base = fx.substitute(base)
	makers := []func(size int) []byte{func(size int) []byte { return padKeys(marshal(base), size) }}
	for _, f := range bodyFields(mt.Schema, nil, nil, 0) {
		switch {
		case f.schema.Type.Is("object") || len(properties(f.schema)) > 0:
			makers = append(makers, func(size int) []byte {
				return padKeys(setField(base, f, []byte(`{}`)), size, f.path...)
			})
		case f.schema.Type.Is("array"):
			item := marshal(sample(f.schema.Items, 0))
			makers = append(makers, func(size int) []byte {
				var arr bytes.Buffer
				arr.WriteByte('[')
				skeleton := len(setField(base, f, []byte(`[]`)))
				for arr.Len()+len(item)+skeleton+2 < size {
					if arr.Len() > 1 {
						arr.WriteByte(',')
					}
					arr.Write(item)
				}
				arr.WriteByte(']')
				return setField(base, f, arr.Bytes())
			})
		}
	}
	var worst func(int) []byte
	var worstPerByte time.Duration
	for _, m := range makers {
		body := m(probe)
		if len(body) < probe/2 {
			continue // not grown (its field not found): its time is the fixed cost
		}
		started := time.Now()
		validateOnce(nil, op, body)
		if per := time.Since(started) / time.Duration(len(body)); worst == nil || per > worstPerByte {
			worst, worstPerByte = m, per
		}
	}
	return worst, worstPerByte
}

// padKeys adds unknown keys to the object at path in body (the top level when path is empty)
// until the body is size bytes.
func padKeys(body []byte, size int, path ...string) []byte {
	// The object is found by its key's text; a path whose last key also names another field
	// earlier in the body pads that one instead, which is as hostile.
	at := 1
	if len(path) > 0 {
		key := []byte(fmt.Sprintf("%q:{", path[len(path)-1]))
		if path[len(path)-1] == "0" && len(path) > 1 { // the first item of an array
			key = []byte(fmt.Sprintf("%q:[{", path[len(path)-2]))
		}
		i := bytes.Index(body, key)
		if i < 0 {
			return body
		}
		at = i + len(key)
	}
	var pad strings.Builder
	for i := 0; len(body)+pad.Len() < size-16; i++ {
		fmt.Fprintf(&pad, `"zz%d":1,`, i)
	}
	out := make([]byte, 0, len(body)+pad.Len())
	out = append(out, body[:at]...)
	p := pad.String()
	if body[at] == '}' {
		p = strings.TrimSuffix(p, ",")
	}
	out = append(out, p...)
	return append(out, body[at:]...)
}

// validateOnce runs op's routing and validation middleware on body.
func validateOnce(b *testing.B, op *sweepOp, body []byte) {
	target := op.prefix + op.path
	for _, p := range op.params {
		target = strings.ReplaceAll(target, "{"+p.Name+"}", url.PathEscape(fmt.Sprint(sample(p.Schema, 0))))
	}
	req := httptest.NewRequestWithContext(context.Background(), op.method, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	c := echo.New().NewContext(req, httptest.NewRecorder())
	err := op.spec.Match()(op.spec.Validate()(func(echo.Context) error { return nil }))(c)
	if s := problem.From(err).Status; b != nil && err != nil && (s == http.StatusNotFound || s == http.StatusMethodNotAllowed) {
		b.Fatalf("%s %s: not routed: %v", op.method, target, err)
	}
}
