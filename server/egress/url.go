package egress

import (
	"errors"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// CanonicalURL returns raw as it is sent: an absolute http or https URL whose host is ASCII
// (an internationalised name in its IDNA form), whose path and query are percent-encoded
// wherever they held a byte a request line cannot carry (a space, a control character, a
// non-ASCII byte, a stray '%'), and without its fragment (never sent). Go's HTTP client
// escapes a path itself but sends a query as it is given, and receivers (Node's among them)
// answer 400 to a request line with a space or a raw non-ASCII byte in it. A URL that cannot
// be made so is an *InvalidURLError.
func CanonicalURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		why := err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			why = ue.Err.Error() // without the URL, which the caller has
		}
		return "", &InvalidURLError{URL: raw, Why: why}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", &InvalidURLError{URL: raw, Why: "not an http or https URL"}
	}
	host := u.Hostname()
	if host == "" {
		return "", &InvalidURLError{URL: raw, Why: "no host"}
	}
	if !isASCII(host) {
		ascii, err := idna.Lookup.ToASCII(host)
		if err != nil {
			return "", &InvalidURLError{URL: raw, Why: "the host is not a valid name: " + err.Error()}
		}
		if port := u.Port(); port != "" {
			ascii += ":" + port
		}
		u.Host = ascii
	}
	u.Fragment, u.RawFragment = "", ""
	u.RawQuery = escapeQuery(u.RawQuery)
	u.ForceQuery = false
	// The path: String writes EscapedPath, which re-escapes a path that is not validly
	// escaped (spaces, non-ASCII) and keeps a valid one as given.
	return u.String(), nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// escapeQuery percent-encodes the bytes of a raw query that RFC 3986 does not allow there,
// keeping what is valid as it is (so an already canonical query is unchanged, and the
// receiver sees the separators and escapes it was given).
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '%' && i+2 < len(q) && isHex(q[i+1]) && isHex(q[i+2]):
			b.WriteByte(c)
		case c != '%' && allowedInQuery(c):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// allowedInQuery: RFC 3986's unreserved and sub-delims characters, ':', '@', '/' and '?'.
func allowedInQuery(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0
}
