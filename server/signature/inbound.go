package signature

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // GitHub's legacy X-Hub-Signature, Twilio and generic sha1 HMACs are what those vendors sign with; HMAC-SHA1 is not broken by SHA-1's collisions
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Inbound verification schemes: how a vendor signs the webhooks it sends (Ingest sources).
const (
	Stripe           = "stripe"
	GitHub           = "github"
	Shopify          = "shopify"
	Slack            = "slack"
	Twilio           = "twilio"
	StandardWebhooks = "standard_webhooks"
	HMAC             = "hmac"
	BasicAuth        = "basic_auth"
	APIKey           = "api_key"
	None             = "none"
)

// Schemes lists every inbound scheme.
var Schemes = []string{Stripe, GitHub, Shopify, Slack, Twilio, StandardWebhooks, HMAC, BasicAuth, APIKey, None}

// Verification statuses.
const (
	Verified  = "verified"
	Failed    = "failed"
	Unchecked = "unchecked"
)

// Failure reasons: why a request failed verification, in one machine-readable word.
const (
	// ReasonMissingSignature: the header carrying the signature (or credentials) is absent.
	ReasonMissingSignature = "missing_signature"
	// ReasonMalformedSignature: the header is there but cannot be read (no v1=, bad hex, ...).
	ReasonMalformedSignature = "malformed_signature"
	// ReasonSignatureMismatch: no signature matches any of the source's secrets.
	ReasonSignatureMismatch = "signature_mismatch"
	// ReasonMissingTimestamp: a scheme with a timestamp got none (or not a number).
	ReasonMissingTimestamp = "missing_timestamp"
	// ReasonTimestampOutOfTolerance: the signature matches but its timestamp is too far from now
	// (a replayed or delayed request).
	ReasonTimestampOutOfTolerance = "timestamp_out_of_tolerance"
	// ReasonBodyHashMismatch: Twilio's bodySHA256 does not match the body.
	ReasonBodyHashMismatch = "body_hash_mismatch"
	// ReasonInvalidCredentials: basic auth or API key credentials that are not the source's.
	ReasonInvalidCredentials = "invalid_credentials"
	// ReasonNoSecret: the source has no secret to verify with.
	ReasonNoSecret = "secret_not_configured"
)

// DefaultTolerance is how far a signed timestamp may be from now (Stripe's, Slack's and
// Standard Webhooks' default, 5 minutes).
const DefaultTolerance = 5 * time.Minute

// Verifier checks the requests one source receives.
type Verifier struct {
	Scheme string
	// Secrets are the signing secrets (the password for basic auth, the key for api_key):
	// the current one first, then previous ones still valid during a rotation. Any matches.
	Secrets []string
	// Tolerance bounds a signed timestamp's distance from now (default DefaultTolerance).
	Tolerance time.Duration

	// Algorithm (sha1, sha256 or sha512), Encoding (hex, base64 or base64url) and Header (the
	// signature header) of an hmac source; Prefix is stripped from the header's value
	// ("sha256="). With TimestampHeader, the signed content is "{timestamp}.{body}" and the
	// timestamp (Unix seconds) must be within Tolerance; otherwise it is the body.
	Algorithm, Encoding, Header, Prefix, TimestampHeader string
	// Username is a basic_auth source's user name. Header is an api_key source's header
	// (default X-Api-Key; for Authorization, "Bearer <key>" is accepted too).
	Username string
}

// Request is what a source received, as received.
type Request struct {
	Method string
	// URLs are the absolute URLs the sender may have called (Twilio signs the URL): the one
	// rebuilt from the public base URL, and from the forwarded headers.
	URLs   []string
	Header http.Header
	Body   []byte
}

// Result is a verification's outcome: Status is Verified, Failed (with Reason) or Unchecked.
type Result struct {
	Status string
	Reason string
}

func failed(reason string) Result   { return Result{Status: Failed, Reason: reason} }
func verified() Result              { return Result{Status: Verified} }
func (v Verifier) tolerance() int64 { return int64(max(v.Tolerance, time.Second) / time.Second) }

// Verify checks r with the source's scheme, on the raw body, comparing in constant time.
func (v Verifier) Verify(r Request, now time.Time) Result {
	if v.Tolerance == 0 {
		v.Tolerance = DefaultTolerance
	}
	if v.Scheme == None || v.Scheme == "" {
		return Result{Status: Unchecked}
	}
	if len(v.Secrets) == 0 {
		return failed(ReasonNoSecret)
	}
	switch v.Scheme {
	case Stripe:
		return v.stripe(r, now)
	case GitHub:
		return v.github(r)
	case Shopify:
		return v.macs(r.Header.Get("X-Shopify-Hmac-Sha256"), decodeBase64, func(key []byte) []byte {
			return mac(sha256.New, key, r.Body)
		})
	case Slack:
		return v.slack(r, now)
	case Twilio:
		return v.twilio(r)
	case StandardWebhooks:
		return v.standard(r, now)
	case HMAC:
		return v.hmac(r, now)
	case BasicAuth:
		return v.basic(r)
	case APIKey:
		return v.apiKey(r)
	}
	return failed(ReasonNoSecret)
}

func mac(h func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(h, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// macs checks one signature header value (decoded with decode) against the MAC compute makes
// with each secret.
func (v Verifier) macs(header string, decode func(string) ([]byte, bool), compute func(key []byte) []byte) Result {
	header = strings.TrimSpace(header)
	if header == "" {
		return failed(ReasonMissingSignature)
	}
	sig, ok := decode(header)
	if !ok {
		return failed(ReasonMalformedSignature)
	}
	for _, s := range v.Secrets {
		if hmac.Equal(sig, compute([]byte(s))) {
			return verified()
		}
	}
	return failed(ReasonSignatureMismatch)
}

// withinTolerance reports whether a Unix timestamp is within the tolerance of now, either way.
func (v Verifier) withinTolerance(ts int64, now time.Time) bool {
	d := now.Unix() - ts
	if d < 0 {
		d = -d
	}
	return d <= v.tolerance()
}

// stripe: Stripe-Signature "t=<unix>,v1=<hex>[,v1=<hex>...]", HMAC-SHA256 of "{t}.{body}" keyed
// with the whole whsec_ secret; any v1 may match (Stripe sends several while a secret rolls).
func (v Verifier) stripe(r Request, now time.Time) Result {
	h := r.Header.Get("Stripe-Signature")
	if h == "" {
		return failed(ReasonMissingSignature)
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(h, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = val
		case "v1":
			if b, err := hex.DecodeString(val); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return failed(ReasonMissingTimestamp)
	}
	if len(sigs) == 0 {
		return failed(ReasonMalformedSignature)
	}
	for _, s := range v.Secrets {
		want := mac(sha256.New, []byte(s), []byte(ts), []byte{'.'}, r.Body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				if !v.withinTolerance(t, now) {
					return failed(ReasonTimestampOutOfTolerance)
				}
				return verified()
			}
		}
	}
	return failed(ReasonSignatureMismatch)
}

// github: X-Hub-Signature-256 "sha256=<hex>" of the body (the legacy X-Hub-Signature "sha1=<hex>"
// when that is all there is). GitHub signs no timestamp: replays are caught by deduplication
// on X-GitHub-Delivery.
func (v Verifier) github(r Request) Result {
	if h := r.Header.Get("X-Hub-Signature-256"); h != "" {
		return v.macs(h, prefixed("sha256=", decodeHex), func(key []byte) []byte { return mac(sha256.New, key, r.Body) })
	}
	return v.macs(r.Header.Get("X-Hub-Signature"), prefixed("sha1=", decodeHex), func(key []byte) []byte { return mac(sha1.New, key, r.Body) })
}

// slack: X-Slack-Signature "v0=<hex>" of "v0:{X-Slack-Request-Timestamp}:{body}", HMAC-SHA256.
func (v Verifier) slack(r Request, now time.Time) Result {
	ts := strings.TrimSpace(r.Header.Get("X-Slack-Request-Timestamp"))
	if r.Header.Get("X-Slack-Signature") == "" {
		return failed(ReasonMissingSignature)
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return failed(ReasonMissingTimestamp)
	}
	res := v.macs(r.Header.Get("X-Slack-Signature"), prefixed("v0=", decodeHex), func(key []byte) []byte {
		return mac(sha256.New, key, []byte("v0:"+ts+":"), r.Body)
	})
	if res.Status == Verified && !v.withinTolerance(t, now) {
		return failed(ReasonTimestampOutOfTolerance)
	}
	return res
}

// standard: Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature, or Svix's
// svix-* names for the same): "v1,<base64>" entries, space-separated, each an HMAC-SHA256 of
// "{id}.{timestamp}.{body}" keyed with the base64 bytes of the whsec_ secret.
func (v Verifier) standard(r Request, now time.Time) Result {
	prefix := "webhook-"
	if r.Header.Get("webhook-signature") == "" && r.Header.Get("svix-signature") != "" {
		prefix = "svix-"
	}
	id, ts, h := r.Header.Get(prefix+"id"), strings.TrimSpace(r.Header.Get(prefix+"timestamp")), r.Header.Get(prefix+"signature")
	if h == "" || id == "" {
		return failed(ReasonMissingSignature)
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return failed(ReasonMissingTimestamp)
	}
	var sigs [][]byte
	for _, entry := range strings.Fields(h) {
		version, sig, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue // v1a (ed25519) and unknown versions are not ours to check
		}
		if b, ok := decodeBase64(sig); ok {
			sigs = append(sigs, b)
		}
	}
	if len(sigs) == 0 {
		return failed(ReasonMalformedSignature)
	}
	for _, s := range v.Secrets {
		key, err := DecodeSecret(s)
		if err != nil {
			key, err = base64.StdEncoding.DecodeString(s) // a bare base64 key, as Svix's libraries accept
			if err != nil {
				continue
			}
		}
		want := mac(sha256.New, key, []byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, r.Body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				if !v.withinTolerance(t, now) {
					return failed(ReasonTimestampOutOfTolerance)
				}
				return verified()
			}
		}
	}
	return failed(ReasonSignatureMismatch)
}

// hmac: a generic HMAC of the body (or of "{timestamp}.{body}"), in a header of the source's
// choosing.
func (v Verifier) hmac(r Request, now time.Time) Result {
	var h func() hash.Hash
	switch v.Algorithm {
	case "sha1":
		h = sha1.New
	case "sha512":
		h = sha512.New
	default:
		h = sha256.New
	}
	decode := decodeHex
	switch v.Encoding {
	case "base64":
		decode = decodeBase64
	case "base64url":
		decode = decodeBase64URL
	}
	if v.Prefix != "" {
		decode = prefixed(v.Prefix, decode)
	}
	header := v.Header
	if header == "" {
		header = "X-Signature"
	}
	if v.TimestampHeader == "" {
		return v.macs(r.Header.Get(header), decode, func(key []byte) []byte { return mac(h, key, r.Body) })
	}
	if r.Header.Get(header) == "" {
		return failed(ReasonMissingSignature)
	}
	ts := strings.TrimSpace(r.Header.Get(v.TimestampHeader))
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return failed(ReasonMissingTimestamp)
	}
	res := v.macs(r.Header.Get(header), decode, func(key []byte) []byte { return mac(h, key, []byte(ts), []byte{'.'}, r.Body) })
	if res.Status == Verified && !v.withinTolerance(t, now) {
		return failed(ReasonTimestampOutOfTolerance)
	}
	return res
}

// twilio: X-Twilio-Signature, the base64 HMAC-SHA1 of the full URL Twilio called followed by
// each POST parameter, sorted by name, name and value concatenated (a repeated name's values
// sorted). A JSON body is covered by the bodySHA256 query parameter instead, the SHA-256 of the
// body in hex. The URL is tried with and without its default port, as twilio's own libraries
// do, since Twilio may sign either.
func (v Verifier) twilio(r Request) Result {
	sig := strings.TrimSpace(r.Header.Get("X-Twilio-Signature"))
	if sig == "" {
		return failed(ReasonMissingSignature)
	}
	want, ok := decodeBase64(sig)
	if !ok {
		return failed(ReasonMalformedSignature)
	}
	var params url.Values
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		params, _ = url.ParseQuery(string(r.Body))
	}
	bodyMismatch := false
	for _, u := range r.URLs {
		for _, candidate := range withAndWithoutPort(u) {
			p := params
			hashParam := ""
			if pu, err := url.Parse(candidate); err == nil {
				hashParam = pu.Query().Get("bodySHA256")
			}
			if hashParam != "" {
				p = nil // the body is covered by its hash, not by parameters
			}
			data := twilioData(candidate, p)
			for _, s := range v.Secrets {
				if !hmac.Equal(want, mac(sha1.New, []byte(s), data)) {
					continue
				}
				if hashParam != "" {
					sum := sha256.Sum256(r.Body)
					if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(hashParam))) != 1 {
						bodyMismatch = true
						continue
					}
				}
				return verified()
			}
		}
	}
	if bodyMismatch {
		return failed(ReasonBodyHashMismatch)
	}
	return failed(ReasonSignatureMismatch)
}

// twilioData is what Twilio signs: the URL, then each parameter name and value, by name.
func twilioData(u string, params url.Values) []byte {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	b := []byte(u)
	for _, k := range names {
		vals := append([]string(nil), params[k]...)
		sort.Strings(vals)
		for i, val := range vals {
			if i > 0 && val == vals[i-1] {
				continue // twilio's libraries sign each distinct value once
			}
			b = append(b, k...)
			b = append(b, val...)
		}
	}
	return b
}

// withAndWithoutPort returns u as given, and with its default port added or removed.
func withAndWithoutPort(u string) []string {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return []string{u}
	}
	dflt := "80"
	if strings.EqualFold(pu.Scheme, "https") {
		dflt = "443"
	}
	scheme := pu.Scheme + "://"
	rest := u[len(scheme)+len(pu.Host):]
	if pu.Port() == "" {
		return []string{u, scheme + pu.Host + ":" + dflt + rest}
	}
	if pu.Port() == dflt {
		return []string{u, scheme + pu.Hostname() + rest}
	}
	return []string{u}
}

// basic: HTTP basic authentication with the source's user name and password.
func (v Verifier) basic(r Request) Result {
	user, pass, ok := basicAuth(r.Header.Get("Authorization"))
	if !ok {
		return failed(ReasonMissingSignature)
	}
	userOK := equal(user, v.Username)
	for _, s := range v.Secrets {
		if equal(pass, s) && userOK {
			return verified()
		}
	}
	return failed(ReasonInvalidCredentials)
}

func basicAuth(h string) (user, pass string, ok bool) {
	scheme, value, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok
}

// apiKey: a static key in a header of the source's choosing.
func (v Verifier) apiKey(r Request) Result {
	header := v.Header
	if header == "" {
		header = "X-Api-Key"
	}
	got := strings.TrimSpace(r.Header.Get(header))
	if strings.EqualFold(header, "Authorization") {
		if scheme, value, ok := strings.Cut(got, " "); ok && strings.EqualFold(scheme, "bearer") {
			got = strings.TrimSpace(value)
		}
	}
	if got == "" {
		return failed(ReasonMissingSignature)
	}
	for _, s := range v.Secrets {
		if equal(got, s) {
			return verified()
		}
	}
	return failed(ReasonInvalidCredentials)
}

// equal compares two secrets in constant time, their lengths included (digests are compared).
func equal(a, b string) bool {
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(da[:], db[:]) == 1
}

func decodeHex(s string) ([]byte, bool) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	return b, err == nil && len(b) > 0
}

func decodeBase64(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	return b, err == nil && len(b) > 0
}

func decodeBase64URL(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawURLEncoding.DecodeString(s)
	}
	return b, err == nil && len(b) > 0
}

// prefixed decodes a value after its prefix (compared case-insensitively); no prefix is malformed.
func prefixed(prefix string, decode func(string) ([]byte, bool)) func(string) ([]byte, bool) {
	return func(s string) ([]byte, bool) {
		s = strings.TrimSpace(s)
		if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
			return nil, false
		}
		return decode(s[len(prefix):])
	}
}
