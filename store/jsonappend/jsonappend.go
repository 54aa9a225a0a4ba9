// Package jsonappend writes JSON values onto a byte slice by hand, for the few hot paths
// (the activity create batch, the created activity's answer) where encoding/json's reflection
// costs more than the work around it. The tests compare each writer with encoding/json.
package jsonappend

import (
	"time"
	"unicode/utf8"
)

// String writes s as a JSON string. Invalid UTF-8 bytes become U+FFFD, as encoding/json
// writes them.
func String(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Time writes t as encoding/json does: an RFC 3339 string with as many fractional digits
// as it has.
func Time(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// MillisTime writes t as the Activities API writes timestamps, as Reten's documentation does: an
// RFC 3339 string in UTC with exactly three fractional digits (milliseconds, truncated) and Z,
// "2025-01-16T09:00:00.000Z".
func MillisTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	return append(b, '"')
}
