package channels_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/gen/channelsclient"
	"github.com/switchboard-dev/switchboard/server/servertest"
)

func newContact(t *testing.T, c *channelsclient.ClientWithResponses, ws uuid.UUID, ids ...string) channelsclient.Contact {
	t.Helper()
	body := channelsclient.ContactCreate{}
	for i := 0; i+1 < len(ids); i += 2 {
		body.Identifiers = append(body.Identifiers, channelsclient.ContactIdentifier{Key: ids[i], Value: ids[i+1]})
	}
	res, err := c.CreateContactWithResponse(ctx, ws, body)
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create contact: %v %d %s", err, res.StatusCode(), res.Body)
	}
	return *res.JSON201
}

// TestContacts creates, reads and lists contacts; identifiers are checked and unique.
func TestContacts(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "channel:read", "channel:write")
	c := env.Channels(t, key)
	res, err := c.CreateContactWithResponse(ctx, ws, channelsclient.ContactCreate{
		DisplayName: ptr("Ana"),
		Identifiers: []channelsclient.ContactIdentifier{{Key: "phonenumber", Value: "+31612345678"}, {Key: "emailaddress", Value: "ana@example.com"}, {Key: "telegramid", Value: "4242"}},
		Attributes:  &map[string]any{"country": "NL", "vip": true},
	})
	if err != nil || res.JSON201 == nil {
		t.Fatalf("create: %v %s", err, res.Body)
	}
	ana := *res.JSON201
	got, _ := c.GetContactWithResponse(ctx, ws, ana.Id)
	if got.JSON200 == nil || !jsonEqual(*got.JSON200, ana) || len(ana.Identifiers) != 3 || ana.Identifiers[2].Value != "4242" ||
		ana.DisplayName.MustGet() != "Ana" || ana.Attributes["vip"] != true {
		t.Fatalf("get: %s, created %+v", got.Body, ana)
	}
	bob := newContact(t, c, ws, "phonenumber", "+4915112345678")

	bad := []struct {
		name   string
		ids    []channelsclient.ContactIdentifier
		field  string
		status int
	}{
		{"not E.164", []channelsclient.ContactIdentifier{{Key: "phonenumber", Value: "0612345678"}}, "identifiers.0.value", 400},
		{"not an email", []channelsclient.ContactIdentifier{{Key: "emailaddress", Value: "Ana <ana@example.com>"}}, "identifiers.0.value", 400},
		{"twice", []channelsclient.ContactIdentifier{{Key: "k", Value: "v"}, {Key: "k", Value: "v"}}, "identifiers.1.value", 400},
		{"key pattern", []channelsclient.ContactIdentifier{{Key: "phone number", Value: "v"}}, "identifiers.0.key", 400},
		{"none", []channelsclient.ContactIdentifier{}, "identifiers", 400},
		{"taken", []channelsclient.ContactIdentifier{{Key: "other", Value: "x"}, {Key: "emailaddress", Value: "ana@example.com"}}, "", 409},
	}
	for _, b := range bad {
		res, _ := c.CreateContactWithResponse(ctx, ws, channelsclient.ContactCreate{Identifiers: b.ids})
		if res.StatusCode() != b.status {
			t.Errorf("%s: %d %s", b.name, res.StatusCode(), res.Body)
			continue
		}
		if e := decodeError(t, res.Body); b.field != "" && len(e.Details[b.field]) == 0 {
			t.Errorf("%s: %s lacks details.%s", b.name, res.Body, b.field)
		}
	}
	// The refused contacts left nothing behind: the "other"/"x" identifier is free.
	newContact(t, c, ws, "other", "x")
	// The same identifier in another workspace is another contact.
	ws2, key2 := env.Workspace(t, "*")
	newContact(t, env.Channels(t, key2), ws2, "emailaddress", "ana@example.com")

	list, _ := c.ListContactsWithResponse(ctx, ws, &channelsclient.ListContactsParams{Limit: ptr(2)})
	if list.JSON200 == nil || len(list.JSON200.Results) != 2 || list.JSON200.Results[0].Id != ana.Id || list.JSON200.Results[1].Id != bob.Id || list.JSON200.NextPageToken == nil {
		t.Fatalf("page 1: %s", list.Body)
	}
	list, _ = c.ListContactsWithResponse(ctx, ws, &channelsclient.ListContactsParams{Limit: ptr(2), PageToken: list.JSON200.NextPageToken})
	if list.JSON200 == nil || len(list.JSON200.Results) != 1 || list.JSON200.NextPageToken != nil {
		t.Fatalf("page 2: %s", list.Body)
	}
	list, _ = c.ListContactsWithResponse(ctx, ws, &channelsclient.ListContactsParams{IdentifierValue: ptr("+4915112345678")})
	if list.JSON200 == nil || len(list.JSON200.Results) != 1 || list.JSON200.Results[0].Id != bob.Id {
		t.Fatalf("by identifier: %s", list.Body)
	}
	if res, _ := c.GetContactWithResponse(ctx, ws, uuid.New()); res.JSON404 == nil ||
		res.JSON404.Message != "The requested resource does not exist: contact not found" {
		t.Errorf("unknown contact: %d %s", res.StatusCode(), res.Body)
	}
	if res, _ := env.Channels(t, key2).GetContactWithResponse(ctx, ws2, ana.Id); res.JSON404 == nil {
		t.Errorf("another workspace's contact: %d %s", res.StatusCode(), res.Body)
	}
}

// TestServiceWindow records inbound messages and reads the window on each kind of platform:
// open, expired, reopened, per identifier, permanent session and no window.
func TestServiceWindow(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws, key := env.Workspace(t, "channel:read", "channel:write")
	c := env.Channels(t, key)
	phone, email := "+31612345678", "ana@example.com"
	ana := newContact(t, c, ws, "phonenumber", phone, "emailaddress", email)
	channel := func(platform string) uuid.UUID {
		return newChannel(t, c, ws, channelsclient.ChannelCreate{PlatformId: platform, Name: platform}).Id
	}
	inbound := func(ch uuid.UUID, at *time.Time, from *string) {
		t.Helper()
		res, err := c.CreateInboundMessageWithResponse(ctx, ws, ch, ana.Id, channelsclient.InboundMessageCreate{ReceivedAt: at, IdentifierValue: from, Text: ptr("hi")})
		if err != nil || res.JSON201 == nil {
			t.Fatalf("inbound: %v %d %s", err, res.StatusCode(), res.Body)
		}
	}
	info := func(ch uuid.UUID, identifier *string) channelsclient.ChannelContactInformation {
		t.Helper()
		res, err := c.GetChannelContactInformationWithResponse(ctx, ws, ch, ana.Id,
			&channelsclient.GetChannelContactInformationParams{ContactIdentifierValue: identifier})
		if err != nil || res.JSON200 == nil {
			t.Fatalf("information: %v %d %s", err, res.StatusCode(), res.Body)
		}
		return *res.JSON200
	}
	expiry := func(i channelsclient.ChannelContactInformation) *time.Time {
		if i.ServiceWindowExpireAt.IsNull() {
			return nil
		}
		v := i.ServiceWindowExpireAt.MustGet()
		return &v
	}
	at := func(d time.Duration) *time.Time { v := time.Now().Add(d).UTC().Truncate(time.Millisecond); return &v }

	wa := channel("whatsapp")
	// Never wrote: no window, a template is required.
	if i := info(wa, nil); expiry(i) != nil || i.IsPermanentSession.MustGet() || i.Metadata.MustGet()["rule"] != "24h-window" {
		t.Errorf("before any message: %+v", i)
	}
	// Wrote 30 hours ago: the window closed 6 hours ago.
	old := at(-30 * time.Hour)
	inbound(wa, old, &phone)
	if e := expiry(info(wa, nil)); e == nil || !e.Equal(old.Add(24*time.Hour)) || !e.Before(time.Now()) {
		t.Errorf("expired window: %v, want %v (in the past)", e, old.Add(24*time.Hour))
	}
	// Wrote 2 hours ago from the email address: open for 22 hours more, but not for the phone.
	recent := at(-2 * time.Hour)
	inbound(wa, recent, &email)
	i := info(wa, nil)
	if e := expiry(i); e == nil || !e.Equal(recent.Add(24*time.Hour)) || !e.After(time.Now()) {
		t.Errorf("open window: %v, want %v", e, recent.Add(24*time.Hour))
	}
	if i.Metadata.MustGet()["lastInboundMessageAt"] != recent.Format(time.RFC3339Nano) {
		t.Errorf("metadata: %v", i.Metadata.MustGet())
	}
	if e := expiry(info(wa, &phone)); e == nil || !e.Equal(old.Add(24*time.Hour)) {
		t.Errorf("phone's window: %v, want %v", e, old.Add(24*time.Hour))
	}
	if e := expiry(info(wa, ptr(""))); e == nil || !e.Equal(recent.Add(24*time.Hour)) {
		t.Errorf("empty contactIdentifierValue is no filter: %v", e)
	}
	// An older message recorded late does not shorten the window.
	inbound(wa, at(-10*time.Hour), nil)
	if e := expiry(info(wa, nil)); !e.Equal(recent.Add(24 * time.Hour)) {
		t.Errorf("a late older message moved the window to %v", e)
	}
	// Windows are per channel: another WhatsApp channel knows nothing of these messages.
	if e := expiry(info(channel("whatsapp-cloud"), nil)); e != nil {
		t.Errorf("other channel: %v", e)
	}

	// Telegram: a permanent session once the contact wrote, even long ago.
	tg := channel("telegram")
	if i := info(tg, nil); i.IsPermanentSession.MustGet() || expiry(i) != nil {
		t.Errorf("telegram before a message: %+v", i)
	}
	inbound(tg, at(-400*24*time.Hour), nil)
	if i := info(tg, nil); !i.IsPermanentSession.MustGet() || expiry(i) != nil || i.Metadata.MustGet()["rule"] != "permanent-session" {
		t.Errorf("telegram after a message: %+v", i)
	}
	// SMS: no window at all.
	if i := info(channel("sms-messagebird"), nil); !i.IsPermanentSession.MustGet() || expiry(i) != nil || i.Metadata.MustGet()["rule"] != "no-window" {
		t.Errorf("sms: %+v", i)
	}

	// Refusals.
	res, _ := c.CreateInboundMessageWithResponse(ctx, ws, wa, ana.Id, channelsclient.InboundMessageCreate{ReceivedAt: at(time.Hour)})
	if res.JSON400 == nil || len((*res.JSON400.Details)["receivedAt"]) == 0 {
		t.Errorf("future message: %d %s", res.StatusCode(), res.Body)
	}
	res, _ = c.CreateInboundMessageWithResponse(ctx, ws, wa, ana.Id, channelsclient.InboundMessageCreate{IdentifierValue: ptr("+1999")})
	if res.JSON400 == nil || len((*res.JSON400.Details)["identifierValue"]) == 0 {
		t.Errorf("foreign identifier: %d %s", res.StatusCode(), res.Body)
	}
	for name, r := range map[string]struct{ ch, contact uuid.UUID }{"unknown channel": {uuid.New(), ana.Id}, "unknown contact": {wa, uuid.New()}} {
		if res, _ := c.CreateInboundMessageWithResponse(ctx, ws, r.ch, r.contact, channelsclient.InboundMessageCreate{}); res.JSON404 == nil {
			t.Errorf("inbound, %s: %d %s", name, res.StatusCode(), res.Body)
		}
		if res, _ := c.GetChannelContactInformationWithResponse(ctx, ws, r.ch, r.contact, nil); res.JSON404 == nil || res.JSON404.Code != "NotFound" {
			t.Errorf("information, %s: %d %s", name, res.StatusCode(), res.Body)
		}
	}
	if res, _ := c.GetChannelContactInformationWithResponse(ctx, ws, wa, ana.Id,
		&channelsclient.GetChannelContactInformationParams{ContactIdentifierValue: ptr("+1999")}); res.JSON404 == nil {
		t.Errorf("identifier not the contact's: %d %s", res.StatusCode(), res.Body)
	}
	// Another workspace's contact on this channel is unknown here.
	ws2, key2 := env.Workspace(t, "*")
	stranger := newContact(t, env.Channels(t, key2), ws2, "phonenumber", phone)
	if res, _ := c.GetChannelContactInformationWithResponse(ctx, ws, wa, stranger.Id, nil); res.JSON404 == nil {
		t.Errorf("another workspace's contact: %d %s", res.StatusCode(), res.Body)
	}
	// A deleted channel receives nothing but still answers.
	deleteChannel(t, c, ws, wa)
	if res, _ := c.CreateInboundMessageWithResponse(ctx, ws, wa, ana.Id, channelsclient.InboundMessageCreate{}); res.JSON409 == nil {
		t.Errorf("inbound on a deleted channel: %d %s", res.StatusCode(), res.Body)
	}
	if e := expiry(info(wa, nil)); e == nil {
		t.Error("a deleted channel forgot its window")
	}
	if n := env.Count(t, `channel_inbound_messages`); n != 4 {
		t.Errorf("%d inbound messages stored, want the 4 accepted", n)
	}
}
