package signature_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-dev/switchboard/server/servertest/vendorsign"
	"github.com/switchboard-dev/switchboard/server/signature"
)

// now is the moment every test verifies at; signed timestamps are relative to it.
var now = time.Unix(1_750_000_000, 0)

type check struct {
	name   string
	v      signature.Verifier
	r      signature.Request
	status string
	reason string
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func (c check) run(t *testing.T) {
	t.Helper()
	got := c.v.Verify(c.r, now)
	if got.Status != c.status || got.Reason != c.reason {
		t.Errorf("%s: got %s (%s), want %s (%s)", c.name, got.Status, got.Reason, c.status, c.reason)
	}
}

func tampered(b []byte) []byte { return append(append([]byte(nil), b...), ' ') }

// TestVendorSignatures: each vendor scheme, signed by the vendor's own library (stripe,
// @octokit/webhooks-methods, standardwebhooks, twilio; Shopify's documented Node.js snippet),
// verifies, and fails with the right reason when the body is tampered with, the secret is
// another, the header is missing or the timestamp is outside the tolerance.
func TestVendorSignatures(t *testing.T) {
	t.Parallel()
	body := `{"id":"evt_1","type":"invoice.paid","data":{"object":{"amount_paid":1200}}}`
	form := "To=%2B15005550006&From=%2B14155550100&Body=Hello+%F0%9F%91%8B&MediaUrl0=b&MediaUrl0=a"
	ts := now.Unix()
	old := ts - 301
	const stripeSecret, ghSecret, twilioToken = "whsec_stripe_test_secret", "github-secret", "twilio-auth-token"
	swSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("standard-webhooks-key-32-bytes!!"))
	const shopSecret = "shopify-app-secret"
	twilioURL := "https://ingest.example.com/ingest/src/tok"
	signed := vendorsign.Sign(t,
		vendorsign.Request{Scheme: "stripe", Secret: stripeSecret, Body: body, Timestamp: ts},
		vendorsign.Request{Scheme: "stripe", Secret: stripeSecret, Body: body, Timestamp: old},
		vendorsign.Request{Scheme: "github", Secret: ghSecret, Body: body},
		vendorsign.Request{Scheme: "standard_webhooks", Secret: swSecret, Body: body, Timestamp: ts, ID: "msg_1"},
		vendorsign.Request{Scheme: "standard_webhooks", Secret: swSecret, Body: body, Timestamp: old, ID: "msg_1"},
		vendorsign.Request{Scheme: "standard_webhooks", Secret: swSecret, Body: body, Timestamp: ts, ID: "msg_2", Svix: true},
		vendorsign.Request{Scheme: "twilio", Secret: twilioToken, Body: form, URL: twilioURL},
		vendorsign.Request{Scheme: "twilio", Secret: twilioToken, Body: body, URL: twilioURL, JSON: true},
		vendorsign.Request{Scheme: "shopify", Secret: shopSecret, Body: body},
	)
	h := func(i int) http.Header {
		out := http.Header{}
		for k, v := range signed[i].Header {
			out.Set(k, v)
		}
		return out
	}
	b := []byte(body)
	stripeV := signature.Verifier{Scheme: signature.Stripe, Secrets: []string{stripeSecret}}
	ghV := signature.Verifier{Scheme: signature.GitHub, Secrets: []string{ghSecret}}
	swV := signature.Verifier{Scheme: signature.StandardWebhooks, Secrets: []string{swSecret}}
	twV := signature.Verifier{Scheme: signature.Twilio, Secrets: []string{twilioToken}}
	shopV := signature.Verifier{Scheme: signature.Shopify, Secrets: []string{shopSecret}}
	formHeader := func(i int) http.Header {
		x := h(i)
		x.Set("Content-Type", "application/x-www-form-urlencoded")
		return x
	}
	for _, c := range []check{
		{"stripe", stripeV, signature.Request{Header: h(0), Body: b}, signature.Verified, ""},
		{"stripe tampered", stripeV, signature.Request{Header: h(0), Body: tampered(b)}, signature.Failed, signature.ReasonSignatureMismatch},
		{"stripe other secret", signature.Verifier{Scheme: signature.Stripe, Secrets: []string{"whsec_other"}}, signature.Request{Header: h(0), Body: b},
			signature.Failed, signature.ReasonSignatureMismatch},
		{"stripe rotated: the old secret still listed", signature.Verifier{Scheme: signature.Stripe, Secrets: []string{"whsec_new", stripeSecret}},
			signature.Request{Header: h(0), Body: b}, signature.Verified, ""},
		{"stripe expired", stripeV, signature.Request{Header: h(1), Body: b}, signature.Failed, signature.ReasonTimestampOutOfTolerance},
		{"stripe missing", stripeV, signature.Request{Header: http.Header{}, Body: b}, signature.Failed, signature.ReasonMissingSignature},
		{"github", ghV, signature.Request{Header: h(2), Body: b}, signature.Verified, ""},
		{"github tampered", ghV, signature.Request{Header: h(2), Body: tampered(b)}, signature.Failed, signature.ReasonSignatureMismatch},
		{"github malformed", ghV, signature.Request{Header: header("X-Hub-Signature-256", "md5=00"), Body: b}, signature.Failed, signature.ReasonMalformedSignature},
		{"standard webhooks", swV, signature.Request{Header: h(3), Body: b}, signature.Verified, ""},
		{"standard webhooks tampered", swV, signature.Request{Header: h(3), Body: tampered(b)}, signature.Failed, signature.ReasonSignatureMismatch},
		{"standard webhooks expired", swV, signature.Request{Header: h(4), Body: b}, signature.Failed, signature.ReasonTimestampOutOfTolerance},
		{"standard webhooks as svix-*", swV, signature.Request{Header: h(5), Body: b}, signature.Verified, ""},
		{"twilio form", twV, signature.Request{Header: formHeader(6), Body: []byte(form), URLs: []string{twilioURL}}, signature.Verified, ""},
		{"twilio form, URL with its default port", twV, signature.Request{Header: formHeader(6), Body: []byte(form),
			URLs: []string{"https://ingest.example.com:443/ingest/src/tok"}}, signature.Verified, ""},
		{"twilio form tampered", twV, signature.Request{Header: formHeader(6), Body: []byte(form + "&x=1"), URLs: []string{twilioURL}},
			signature.Failed, signature.ReasonSignatureMismatch},
		{"twilio form, another URL", twV, signature.Request{Header: formHeader(6), Body: []byte(form), URLs: []string{"http://127.0.0.1:8080/ingest/src/tok"}},
			signature.Failed, signature.ReasonSignatureMismatch},
		{"twilio form, one of the candidate URLs", twV, signature.Request{Header: formHeader(6), Body: []byte(form),
			URLs: []string{"http://127.0.0.1:8080/ingest/src/tok", twilioURL}}, signature.Verified, ""},
		{"twilio json", twV, signature.Request{Header: h(7), Body: b, URLs: []string{signed[7].URL}}, signature.Verified, ""},
		{"twilio json tampered", twV, signature.Request{Header: h(7), Body: tampered(b), URLs: []string{signed[7].URL}},
			signature.Failed, signature.ReasonBodyHashMismatch},
		{"shopify", shopV, signature.Request{Header: h(8), Body: b}, signature.Verified, ""},
		{"shopify tampered", shopV, signature.Request{Header: h(8), Body: tampered(b)}, signature.Failed, signature.ReasonSignatureMismatch},
		{"no secret", signature.Verifier{Scheme: signature.GitHub}, signature.Request{Header: h(2), Body: b}, signature.Failed, signature.ReasonNoSecret},
	} {
		c.run(t)
	}
}

// TestSlackSignature: Slack's documented example request verifies (api.slack.com, "Verifying
// requests from Slack"), and fails tampered or too old.
func TestSlackSignature(t *testing.T) {
	t.Parallel()
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar" +
		"&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands" +
		"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	h := header("X-Slack-Request-Timestamp", "1531420618", "X-Slack-Signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
	v := signature.Verifier{Scheme: signature.Slack, Secrets: []string{"8f742231b10e8888abcd99yyyzzz85a5"}}
	at := time.Unix(1531420618+60, 0)
	for _, c := range []struct {
		name, status, reason string
		body                 []byte
		at                   time.Time
	}{
		{"documented example", signature.Verified, "", body, at},
		{"tampered", signature.Failed, signature.ReasonSignatureMismatch, tampered(body), at},
		{"six minutes later", signature.Failed, signature.ReasonTimestampOutOfTolerance, body, at.Add(5 * time.Minute)},
	} {
		got := v.Verify(signature.Request{Header: h, Body: c.body}, c.at)
		if got.Status != c.status || got.Reason != c.reason {
			t.Errorf("%s: got %+v", c.name, got)
		}
	}
}

// TestGenericSchemes: generic HMAC (checked against RFC 2202 and RFC 4231's published
// vectors: key "Jefe", "what do ya want for nothing?"), basic auth and API keys.
func TestGenericSchemes(t *testing.T) {
	t.Parallel()
	data := []byte("what do ya want for nothing?")
	const sha1Hex = "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
	const sha256Hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	const sha512Hex = "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
	b64 := func(h string) string { b, _ := hex.DecodeString(h); return base64.StdEncoding.EncodeToString(b) }
	hm := func(alg, enc string) signature.Verifier {
		return signature.Verifier{Scheme: signature.HMAC, Secrets: []string{"Jefe"}, Algorithm: alg, Encoding: enc, Header: "X-Sig"}
	}
	tsNow := strconv.FormatInt(now.Unix(), 10)
	tsOld := strconv.FormatInt(now.Unix()-400, 10)
	tsMac := func(ts string) string {
		m := hmac.New(sha256.New, []byte("Jefe"))
		m.Write([]byte(ts + "."))
		m.Write(data)
		return hex.EncodeToString(m.Sum(nil))
	}
	withTS := signature.Verifier{Scheme: signature.HMAC, Secrets: []string{"Jefe"}, Algorithm: "sha256", Encoding: "hex", Header: "X-Sig",
		Prefix: "sha256=", TimestampHeader: "X-Ts"}
	basic := signature.Verifier{Scheme: signature.BasicAuth, Username: "stripe", Secrets: []string{"s3cret"}}
	auth := func(u, p string) http.Header {
		return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	}
	key := signature.Verifier{Scheme: signature.APIKey, Header: "X-Api-Key", Secrets: []string{"key-1"}}
	bearer := signature.Verifier{Scheme: signature.APIKey, Header: "Authorization", Secrets: []string{"key-1"}}
	for _, c := range []check{
		{"hmac sha1 hex", hm("sha1", "hex"), signature.Request{Header: header("X-Sig", sha1Hex), Body: data}, signature.Verified, ""},
		{"hmac sha256 hex", hm("sha256", "hex"), signature.Request{Header: header("X-Sig", sha256Hex), Body: data}, signature.Verified, ""},
		{"hmac sha512 base64", hm("sha512", "base64"), signature.Request{Header: header("X-Sig", b64(sha512Hex)), Body: data}, signature.Verified, ""},
		{"hmac sha256 tampered", hm("sha256", "hex"), signature.Request{Header: header("X-Sig", sha256Hex), Body: tampered(data)},
			signature.Failed, signature.ReasonSignatureMismatch},
		{"hmac wrong algorithm", hm("sha512", "hex"), signature.Request{Header: header("X-Sig", sha256Hex), Body: data},
			signature.Failed, signature.ReasonSignatureMismatch},
		{"hmac with prefix and timestamp", withTS, signature.Request{Header: header("X-Sig", "sha256="+tsMac(tsNow), "X-Ts", tsNow), Body: data},
			signature.Verified, ""},
		{"hmac timestamp too old", withTS, signature.Request{Header: header("X-Sig", "sha256="+tsMac(tsOld), "X-Ts", tsOld), Body: data},
			signature.Failed, signature.ReasonTimestampOutOfTolerance},
		{"hmac timestamp swapped", withTS, signature.Request{Header: header("X-Sig", "sha256="+tsMac(tsOld), "X-Ts", tsNow), Body: data},
			signature.Failed, signature.ReasonSignatureMismatch},
		{"hmac missing timestamp", withTS, signature.Request{Header: header("X-Sig", "sha256="+tsMac(tsNow)), Body: data},
			signature.Failed, signature.ReasonMissingTimestamp},
		{"hmac without its prefix", withTS, signature.Request{Header: header("X-Sig", tsMac(tsNow), "X-Ts", tsNow), Body: data},
			signature.Failed, signature.ReasonMalformedSignature},
		{"basic", basic, signature.Request{Header: auth("stripe", "s3cret")}, signature.Verified, ""},
		{"basic wrong password", basic, signature.Request{Header: auth("stripe", "s3cre")}, signature.Failed, signature.ReasonInvalidCredentials},
		{"basic wrong user", basic, signature.Request{Header: auth("github", "s3cret")}, signature.Failed, signature.ReasonInvalidCredentials},
		{"basic missing", basic, signature.Request{Header: http.Header{}}, signature.Failed, signature.ReasonMissingSignature},
		{"api key", key, signature.Request{Header: header("X-Api-Key", "key-1")}, signature.Verified, ""},
		{"api key wrong", key, signature.Request{Header: header("X-Api-Key", "key-2")}, signature.Failed, signature.ReasonInvalidCredentials},
		{"api key as a bearer token", bearer, signature.Request{Header: header("Authorization", "Bearer key-1")}, signature.Verified, ""},
		{"none", signature.Verifier{Scheme: signature.None}, signature.Request{}, signature.Unchecked, ""},
	} {
		c.run(t)
	}
}
