// Package eventfilter decides which Ingest destinations an event goes to: by its event type,
// against patterns such as invoice.*, and by its body, against a filter written in Hookdeck's
// simple JSON match syntax (hookdeck/simple-json-match, also Outpost's filter syntax), so a
// filter written for Hookdeck works here unchanged. The Ingest API (routing at receive time,
// test-filter, single replays) and the worker (bulk replays) both route with it.
//
// The body syntax: a filter is a JSON value matched against the body (a JSON document, or a
// form-encoded body as an object of its fields).
//   - A string, number, boolean or null matches an equal value, or an array holding one.
//   - An object matches an object whose every named field matches the filter's value for it
//     (fields the filter does not name are ignored); against an array, an object matches when
//     some item does. Keys starting with $ are operators on the value itself.
//   - An array matches an array that has, for each of its items, an item matching it.
//   - Operators: $eq and $neq (deep equality), $gt $gte $lt $lte (numbers with numbers,
//     strings with strings), $in and $nin (with an array operand: the value is one of its
//     items; with a string: the value contains it), $startsWith and $endsWith (strings),
//     $exist (true: the field is present, false: absent), $and and $or (arrays of filters)
//     and $not (a filter). Several operators in one object must all hold.
//
// A field the body does not have matches only {"$exist": false} (and negations).
package eventfilter

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"reflect"
	"sort"
	"strings"
)

// MaxDepth bounds how deeply a body filter nests.
const MaxDepth = 16

// TypeMatches reports whether an event type matches a destination's patterns: no patterns
// match every event; otherwise some pattern must match its type, where * stands for any run of
// characters (invoice.* matches invoice.paid and invoice.payment.failed). An event without a
// type matches only the empty list.
func TypeMatches(patterns []string, eventType string) bool {
	if len(patterns) == 0 {
		return true
	}
	if eventType == "" {
		return false
	}
	for _, p := range patterns {
		if glob(p, eventType) {
			return true
		}
	}
	return false
}

// glob matches s against p, where * is any run of characters.
func glob(p, s string) bool {
	parts := strings.Split(p, "*")
	if len(parts) == 1 {
		return p == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// Body is a compiled body filter.
type Body struct {
	filter any
}

// Problem is what is wrong with a filter, at a dot path inside it.
type Problem struct {
	Path    string
	Message string
}

// Compile checks a body filter (a JSON document) and readies it for matching; every problem
// found is returned, each at its path. An empty document is no filter (nil).
func Compile(raw json.RawMessage) (*Body, []Problem) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var f any
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, []Problem{{Message: "is not JSON"}}
	}
	var problems []Problem
	check(f, "", 0, &problems)
	if len(problems) > 0 {
		return nil, problems
	}
	return &Body{filter: f}, nil
}

var operators = map[string]bool{"$eq": true, "$neq": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true, "$in": true,
	"$nin": true, "$startsWith": true, "$endsWith": true, "$exist": true, "$and": true, "$or": true, "$not": true}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func check(f any, path string, depth int, problems *[]Problem) {
	if depth > MaxDepth {
		*problems = append(*problems, Problem{Path: path, Message: fmt.Sprintf("nests deeper than %d levels", MaxDepth)})
		return
	}
	switch v := f.(type) {
	case []any:
		for i, item := range v {
			check(item, join(path, fmt.Sprint(i)), depth+1, problems)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			operand, p := v[k], join(path, k)
			if !strings.HasPrefix(k, "$") {
				check(operand, p, depth+1, problems)
				continue
			}
			if !operators[k] {
				*problems = append(*problems, Problem{Path: p, Message: "is not an operator ($eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, " +
					"$startsWith, $endsWith, $exist, $and, $or, $not)"})
				continue
			}
			switch k {
			case "$and", "$or":
				items, ok := operand.([]any)
				if !ok || len(items) == 0 {
					*problems = append(*problems, Problem{Path: p, Message: "must be a non-empty array of filters"})
					continue
				}
				check(items, p, depth+1, problems)
			case "$not":
				check(operand, p, depth+1, problems)
			case "$gt", "$gte", "$lt", "$lte":
				if !isNumber(operand) && !isString(operand) {
					*problems = append(*problems, Problem{Path: p, Message: "must be a number or a string"})
				}
			case "$startsWith", "$endsWith":
				if !isString(operand) {
					*problems = append(*problems, Problem{Path: p, Message: "must be a string"})
				}
			case "$in", "$nin":
				if _, ok := operand.([]any); !ok && !isString(operand) {
					*problems = append(*problems, Problem{Path: p, Message: "must be an array or a string"})
				}
			case "$exist":
				if _, ok := operand.(bool); !ok {
					*problems = append(*problems, Problem{Path: p, Message: "must be true or false"})
				}
			}
		}
	}
}

func isNumber(v any) bool { _, ok := v.(float64); return ok }
func isString(v any) bool { _, ok := v.(string); return ok }

// missing stands for a field the body does not have.
type missing struct{}

// Matches reports whether a decoded body (ParseBody) matches the filter; a nil filter matches
// everything, and a body that is neither JSON nor a form matches no filter.
func (b *Body) Matches(body any, parsed bool) bool {
	if b == nil {
		return true
	}
	if !parsed {
		return false
	}
	return match(body, b.filter)
}

func match(v, f any) bool {
	switch fv := f.(type) {
	case map[string]any:
		return matchObject(v, fv)
	case []any:
		arr, ok := v.([]any)
		if !ok {
			return false
		}
		for _, want := range fv {
			found := false
			for _, item := range arr {
				if match(item, want) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	default:
		if arr, ok := v.([]any); ok {
			for _, item := range arr {
				if equal(item, f) {
					return true
				}
			}
			return false
		}
		return equal(v, f)
	}
}

func matchObject(v any, f map[string]any) bool {
	hasFields := false
	for k := range f {
		if !strings.HasPrefix(k, "$") {
			hasFields = true
			break
		}
	}
	if arr, ok := v.([]any); ok && hasFields {
		for _, item := range arr {
			if matchObject(item, f) {
				return true
			}
		}
		return false
	}
	for k, operand := range f {
		if strings.HasPrefix(k, "$") {
			if !operator(k, v, operand) {
				return false
			}
			continue
		}
		obj, ok := v.(map[string]any)
		var field any = missing{}
		if ok {
			if x, present := obj[k]; present {
				field = x
			}
		}
		if !match(field, operand) {
			return false
		}
	}
	return true
}

func operator(op string, v, operand any) bool {
	if _, absent := v.(missing); absent {
		switch op {
		case "$exist":
			return operand == false
		case "$not":
			return !match(v, operand)
		case "$or":
			for _, f := range operand.([]any) {
				if match(v, f) {
					return true
				}
			}
			return false
		case "$and":
			for _, f := range operand.([]any) {
				if !match(v, f) {
					return false
				}
			}
			return true
		case "$neq", "$nin":
			return true
		}
		return false
	}
	switch op {
	case "$eq":
		return equal(v, operand)
	case "$neq":
		return !equal(v, operand)
	case "$gt", "$gte", "$lt", "$lte":
		c, ok := compare(v, operand)
		if !ok {
			return false
		}
		switch op {
		case "$gt":
			return c > 0
		case "$gte":
			return c >= 0
		case "$lt":
			return c < 0
		}
		return c <= 0
	case "$in":
		return in(v, operand)
	case "$nin":
		return !in(v, operand)
	case "$startsWith", "$endsWith":
		s, ok := v.(string)
		p, _ := operand.(string)
		if !ok {
			return false
		}
		if op == "$startsWith" {
			return strings.HasPrefix(s, p)
		}
		return strings.HasSuffix(s, p)
	case "$exist":
		return operand == true
	case "$not":
		return !match(v, operand)
	case "$or":
		for _, f := range operand.([]any) {
			if match(v, f) {
				return true
			}
		}
		return false
	case "$and":
		for _, f := range operand.([]any) {
			if !match(v, f) {
				return false
			}
		}
		return true
	}
	return false
}

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

// compare orders two numbers or two strings.
func compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case string:
		y, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(x, y), true
	}
	return 0, false
}

// in is $in: with an array operand, the value (or, for an array value, one of its items) is one
// of its items; with a string operand, the value contains it (a string containing the
// substring, or an array holding it).
func in(v, operand any) bool {
	switch o := operand.(type) {
	case []any:
		if arr, ok := v.([]any); ok {
			for _, item := range arr {
				if in(item, operand) {
					return true
				}
			}
			return false
		}
		for _, item := range o {
			if equal(v, item) {
				return true
			}
		}
		return false
	case string:
		switch x := v.(type) {
		case string:
			return strings.Contains(x, o)
		case []any:
			for _, item := range x {
				if equal(item, o) {
					return true
				}
			}
		}
	}
	return false
}

// ParseBody decodes a body for filtering: JSON (any content type, if it parses), or a
// form-encoded body (application/x-www-form-urlencoded, Twilio's) as an object whose fields
// are strings (arrays for repeated names). ok=false for anything else.
func ParseBody(contentType string, raw []byte) (any, bool) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, false
		}
		obj := make(map[string]any, len(vals))
		for k, vs := range vals {
			if len(vs) == 1 {
				obj[k] = vs[0]
				continue
			}
			items := make([]any, len(vs))
			for i, s := range vs {
				items[i] = s
			}
			obj[k] = items
		}
		return obj, true
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, false
	}
	return v, true
}
