package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchboard-dev/switchboard/server/problem"
)

// MaxJSONDepth is how deeply arrays and objects of a request body may nest.
const MaxJSONDepth = 128

// maxDetails caps the problems one answer lists: a body of a million bad values gets an answer of
// a readable size (and the scan stops early).
const maxDetails = 100

// RawStrings is the schema extension that marks a field of arbitrary JSON whose strings are
// kept as sent (a webhook message's data: stored as JSON text, delivered as is): the NUL
// character, unpaired surrogates and bytes that are not UTF-8 are allowed inside it (the last
// read as U+FFFD), where everywhere else they are refused.
const RawStrings = "x-raw-strings"

// checkJSON reports what is wrong with a JSON request body beyond what its schema says, in one
// pass over its bytes (linear time whatever the body): it must be exactly one JSON value (white
// space only after it), nest at most MaxJSONDepth levels, be valid UTF-8, give no object key
// twice, and hold no string (key or value) with the NUL character or an unpaired UTF-16
// surrogate escape — which PostgreSQL cannot store and Go's decoder would silently turn into
// U+FFFD — but inside the fields at raw (paths of keys, "*" for any item or key; see
// RawStrings). Fields are named as Details names them ("credentials.apiKey",
// "attributes.0.key", "body" for the whole). Nil when the body is fine.
func checkJSON(body []byte, raw [][]string) []problem.Detail {
	s := &jsonScanner{b: body, rawPaths: raw}
	s.space()
	if s.i == len(s.b) {
		return nil // no body: the schema's required flag decides
	}
	if !s.value(0) {
		return s.out
	}
	s.space()
	if s.i < len(s.b) {
		s.add(problem.Detail{Field: "body", Type: "json",
			Message: fmt.Sprintf("must be a single JSON value: more follows it at byte %d", s.i)})
	}
	return s.out
}

type jsonScanner struct {
	b        []byte
	i        int
	path     []pathElem // where the scan is; rendered only for a problem
	out      []problem.Detail
	rawPaths [][]string
	raw      int // > 0 inside a RawStrings field
}

// enter notes, at the start of a value, whether it is a RawStrings field; leave undoes it.
func (s *jsonScanner) enter() {
	if s.raw > 0 {
		s.raw++
		return
	}
	for _, rp := range s.rawPaths {
		if len(rp) != len(s.path) {
			continue
		}
		match := true
		for i, e := range s.path {
			match = match && (rp[i] == "*" || e.index < 0 && rp[i] == string(e.key))
		}
		if match {
			s.raw = 1
			return
		}
	}
}

func (s *jsonScanner) leave() {
	if s.raw > 0 {
		s.raw--
	}
}

// pathElem is an object key (as decoded, often the body's own bytes), or an array index when
// index >= 0.
type pathElem struct {
	key   []byte
	index int
}

func (s *jsonScanner) field() string {
	if len(s.path) == 0 {
		return "body"
	}
	parts := make([]string, len(s.path))
	for i, e := range s.path {
		parts[i] = string(e.key)
		if e.index >= 0 {
			parts[i] = strconv.Itoa(e.index)
		}
	}
	return strings.Join(parts, ".")
}

// add records a problem; false once there are enough of them to stop.
func (s *jsonScanner) add(d problem.Detail) bool {
	if len(s.out) < maxDetails {
		s.out = append(s.out, d)
	}
	return len(s.out) < maxDetails
}

// syntax records that the body is not JSON, and stops the scan.
func (s *jsonScanner) syntax() bool {
	s.out = append(s.out, problem.Detail{Field: "body", Message: fmt.Sprintf("is not valid JSON (at byte %d)", s.i), Type: "json"})
	return false
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value at s.i; false stops the scan (a syntax error, or enough problems).
func (s *jsonScanner) value(depth int) bool {
	s.enter()
	defer s.leave()
	if s.i >= len(s.b) {
		return s.syntax()
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		if depth >= MaxJSONDepth {
			s.add(problem.Detail{Field: s.field(), Type: "json",
				Message: fmt.Sprintf("nests objects and arrays deeper than %d levels", MaxJSONDepth)})
			return false
		}
		if c == '{' {
			return s.object(depth + 1)
		}
		return s.array(depth + 1)
	case c == '"':
		_, ok := s.str(false)
		return ok
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.syntax()
}

func (s *jsonScanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntax()
	}
	s.i += len(lit)
	return true
}

func (s *jsonScanner) number() bool {
	start := s.i
	if s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case digits() == 0:
		s.i = start
		return s.syntax()
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return s.syntax()
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return s.syntax()
		}
	}
	return true
}

// str scans a string at s.i. With key, it returns the string decoded (for duplicate checks):
// the body's own bytes when it has no escape.
// A NUL, an unpaired surrogate or invalid UTF-8 is recorded against the current field (a key's
// problems against the object holding it).
func (s *jsonScanner) str(key bool) ([]byte, bool) {
	start := s.i
	s.i++ // the opening quote
	var nul, surrogate, badUTF8, escaped bool
	for {
		if s.i >= len(s.b) {
			return nil, s.syntax()
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			goto done
		case c < 0x20:
			return nil, s.syntax()
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return nil, s.syntax()
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				r, ok := s.hex4(s.i + 2)
				if !ok {
					return nil, s.syntax()
				}
				s.i += 6
				switch {
				case r == 0:
					nul = true
				case r >= 0xD800 && r < 0xDC00:
					// A high surrogate must be followed by a low one.
					low, ok := rune(0), false
					if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						low, ok = s.hex4(s.i + 2)
					}
					if ok && low >= 0xDC00 && low < 0xE000 {
						s.i += 6
					} else {
						surrogate = true
					}
				case r >= 0xDC00 && r < 0xE000:
					surrogate = true
				}
			default:
				return nil, s.syntax()
			}
		case c < utf8.RuneSelf:
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size <= 1 {
				badUTF8 = true
				size = 1
			}
			s.i += size
		}
	}
done:
	if s.raw > 0 {
		nul, surrogate, badUTF8 = false, false, false
	}
	what := "must not contain"
	if key {
		what = "must not have a key containing"
	}
	switch {
	case nul:
		if !s.add(problem.Detail{Field: s.field(), Message: what + " the NUL character (\\u0000)", Type: "string_unicode"}) {
			return nil, false
		}
	case surrogate:
		if !s.add(problem.Detail{Field: s.field(), Message: what + " an unpaired UTF-16 surrogate (\\ud800-\\udfff)", Type: "string_unicode"}) {
			return nil, false
		}
	case badUTF8:
		if !s.add(problem.Detail{Field: s.field(), Message: what + " bytes that are not UTF-8", Type: "string_unicode"}) {
			return nil, false
		}
	}
	if !key {
		return nil, true
	}
	raw := s.b[start+1 : s.i-1]
	if !escaped {
		return raw, true
	}
	var decoded string
	if json.Unmarshal(s.b[start:s.i], &decoded) != nil {
		return raw, true
	}
	return []byte(decoded), true
}

func (s *jsonScanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[at:at+4]), 16, 32)
	return rune(v), err == nil
}

func (s *jsonScanner) object(depth int) bool {
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	// Keys seen so far: a slice while the object is small, a set once it is not.
	var fewKeys [16][]byte
	few := fewKeys[:0]
	var many map[string]struct{}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax()
		}
		k, ok := s.str(true)
		if !ok {
			return false
		}
		dup := false
		switch {
		case many != nil:
			_, dup = many[string(k)]
			many[string(k)] = struct{}{}
		case len(few) < cap(few):
			for _, f := range few {
				dup = dup || bytes.Equal(f, k)
			}
			few = append(few, k)
		default:
			many = make(map[string]struct{}, 64)
			for _, f := range few {
				many[string(f)] = struct{}{}
			}
			_, dup = many[string(k)]
			many[string(k)] = struct{}{}
		}
		s.path = append(s.path, pathElem{key: k, index: -1})
		if dup && !s.add(problem.Detail{Field: s.field(), Message: "is given more than once", Type: "json"}) {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntax()
		}
		s.i++
		s.space()
		if !s.value(depth) {
			return false
		}
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.i >= len(s.b) {
			return s.syntax()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return s.syntax()
		}
	}
}

func (s *jsonScanner) array(depth int) bool {
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return true
	}
	for n := 0; ; n++ {
		s.path = append(s.path, pathElem{index: n})
		s.space()
		if !s.value(depth) {
			return false
		}
		s.path = s.path[:len(s.path)-1]
		s.space()
		if s.i >= len(s.b) {
			return s.syntax()
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return s.syntax()
		}
	}
}
