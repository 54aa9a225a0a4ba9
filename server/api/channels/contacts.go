package channels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	api "github.com/switchboard-dev/switchboard/gen/channels"
	"github.com/switchboard-dev/switchboard/server/pagetoken"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// e164 is an international phone number: +, a country code, at most 15 digits in all.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// maxClockSkew is how far in the future an inbound message's receivedAt may be: platforms'
// clocks are not ours, but a message from tomorrow is a mistake.
const maxClockSkew = 5 * time.Minute

// CreateContact creates a contact with its identifiers.
func (h *Handler) CreateContact(ctx context.Context, req api.CreateContactRequestObject) (api.CreateContactResponseObject, error) {
	b := req.Body
	in := store.ContactCreate{WorkspaceID: workspace(ctx), DisplayName: b.DisplayName}
	if b.Attributes != nil {
		in.Attributes = *b.Attributes
	}
	var details []problem.Detail
	seen := map[store.ContactIdentifier]bool{}
	for i, id := range b.Identifiers {
		ci := store.ContactIdentifier{Key: id.Key, Value: id.Value}
		field := fmt.Sprintf("identifiers.%d.value", i)
		switch {
		case seen[ci]:
			details = append(details, problem.Detail{Field: field, Message: "is given twice"})
		case id.Key == "phonenumber" && !e164.MatchString(id.Value):
			details = append(details, problem.Detail{Field: field, Message: "must be a phone number in E.164 form (+31612345678)"})
		case id.Key == "emailaddress" && !isEmail(id.Value):
			details = append(details, problem.Detail{Field: field, Message: "must be an email address"})
		}
		seen[ci] = true
		in.Identifiers = append(in.Identifiers, ci)
	}
	if len(details) > 0 {
		return nil, problem.Invalid("The request did not pass validation", details...)
	}
	c, err := h.DB.CreateContact(ctx, in)
	if err != nil {
		return nil, err
	}
	return api.CreateContact201JSONResponse(toContact(c)), nil
}

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// GetContact returns one contact.
func (h *Handler) GetContact(ctx context.Context, req api.GetContactRequestObject) (api.GetContactResponseObject, error) {
	c, err := h.DB.GetContact(ctx, workspace(ctx), req.ContactId)
	if err != nil {
		return nil, err
	}
	return api.GetContact200JSONResponse(toContact(c)), nil
}

// ListContacts pages through the workspace's contacts.
func (h *Handler) ListContacts(ctx context.Context, req api.ListContactsRequestObject) (api.ListContactsResponseObject, error) {
	ws := workspace(ctx)
	p := req.Params
	reverse := p.Reverse != nil && *p.Reverse
	value := p.IdentifierValue
	if value != nil && *value == "" {
		value = nil
	}
	// The filter is length-prefixed by Scope, and "-" (no filter) differs from "=" + any value.
	filter := "-"
	if value != nil {
		filter = "=" + *value
	}
	scope := pagetoken.Scope("contacts", ws.String(), strconv.FormatBool(reverse), filter)
	after, err := h.after(scope, p.PageToken)
	if err != nil {
		return nil, err
	}
	limit := pageSize(p.Limit)
	rows, err := h.DB.ListContacts(ctx, ws, value, after, reverse, limit+1)
	if err != nil {
		return nil, err
	}
	rows, next := page(h.Tokens, scope, rows, limit, func(c store.Contact) uuid.UUID { return c.ID })
	out := api.ListContacts200JSONResponse{Results: make([]api.Contact, 0, len(rows)), NextPageToken: next}
	for _, c := range rows {
		out.Results = append(out.Results, toContact(c))
	}
	return out, nil
}

func toContact(c store.Contact) api.Contact {
	out := api.Contact{Id: c.ID, DisplayName: nullString[string](c.DisplayName), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
		Attributes: map[string]any{}, Identifiers: make([]api.ContactIdentifier, 0, len(c.Identifiers))}
	_ = json.Unmarshal(c.Attributes, &out.Attributes) // stored by us as a JSON object
	for _, id := range c.Identifiers {
		out.Identifiers = append(out.Identifiers, api.ContactIdentifier{Key: id.Key, Value: id.Value})
	}
	return out
}

// CreateInboundMessage records a message from a contact on a channel.
func (h *Handler) CreateInboundMessage(ctx context.Context, req api.CreateInboundMessageRequestObject) (api.CreateInboundMessageResponseObject, error) {
	b := req.Body
	now := h.Now()
	m := store.InboundMessage{WorkspaceID: workspace(ctx), ChannelID: req.ChannelId, ContactID: req.ContactId,
		IdentifierValue: b.IdentifierValue, Text: b.Text, ReceivedAt: now}
	if m.IdentifierValue != nil && *m.IdentifierValue == "" {
		m.IdentifierValue = nil
	}
	if b.ReceivedAt != nil {
		if b.ReceivedAt.After(now.Add(maxClockSkew)) {
			return nil, problem.Invalid("The request did not pass validation",
				problem.Detail{Field: "receivedAt", Message: fmt.Sprintf("is more than %s in the future", maxClockSkew)})
		}
		m.ReceivedAt = *b.ReceivedAt
	}
	out, err := h.DB.CreateInboundMessage(ctx, m)
	if errors.Is(err, store.ErrInvalid) {
		return nil, problem.Invalid("The request did not pass validation",
			problem.Detail{Field: "identifierValue", Message: "is not an identifier of the contact"})
	}
	if err != nil {
		return nil, err
	}
	return api.CreateInboundMessage201JSONResponse{Id: out.ID, ChannelId: out.ChannelID, ContactId: out.ContactID,
		IdentifierValue: nullString[string](out.IdentifierValue), Text: nullString[string](out.Text),
		ReceivedAt: out.ReceivedAt.UTC(), CreatedAt: out.CreatedAt.UTC()}, nil
}

// GetChannelContactInformation reports the contact's service window on the channel.
func (h *Handler) GetChannelContactInformation(ctx context.Context, req api.GetChannelContactInformationRequestObject) (api.GetChannelContactInformationResponseObject, error) {
	ws := workspace(ctx)
	ch, err := h.DB.GetChannel(ctx, ws, req.ChannelId)
	if err != nil {
		return nil, err
	}
	value := req.Params.ContactIdentifierValue
	if value != nil && *value == "" {
		value = nil // allowEmptyValue: `?contactIdentifierValue=` means no filter
	}
	last, err := h.DB.LastInboundMessageAt(ctx, ws, ch.ID, req.ContactId, value)
	if err != nil {
		return nil, err
	}
	w := serviceWindow(ch.PlatformID, last)
	meta := map[string]string{"rule": string(w.rule)}
	if last != nil {
		meta["lastInboundMessageAt"] = last.UTC().Format(time.RFC3339Nano)
	}
	out := api.GetChannelContactInformation200JSONResponse{
		ServiceWindowExpireAt: nullable.NewNullNullable[time.Time](),
		IsPermanentSession:    nullable.NewNullableWithValue(w.permanent),
		Metadata:              nullable.NewNullableWithValue(meta),
	}
	if w.expireAt != nil {
		out.ServiceWindowExpireAt = nullable.NewNullableWithValue(w.expireAt.UTC())
	}
	return out, nil
}

// windowRule is how a platform limits free-form messages to a contact.
type windowRule string

const (
	// ruleWindow: free-form messages for 24 hours after each message from the contact
	// (WhatsApp's customer-care window; Messenger's and Instagram's standard messaging window).
	ruleWindow windowRule = "24h-window"
	// ruleSession: once the contact has written, the business may write at any time
	// (a Telegram bot or a LINE account the user has started or befriended).
	ruleSession windowRule = "permanent-session"
	// ruleNone: no window at all (SMS, email, voice).
	ruleNone windowRule = "no-window"
)

// ServiceWindow is how long the window of a ruleWindow platform stays open after the
// contact's last message.
const ServiceWindow = 24 * time.Hour

// ruleFor returns the rule of a platform, matched on the first "-"-separated word of its id
// (whatsapp, whatsapp-cloud → whatsapp).
func ruleFor(platformID string) windowRule {
	family, _, _ := strings.Cut(strings.ToLower(platformID), "-")
	switch family {
	case "whatsapp", "facebook", "instagram":
		return ruleWindow
	case "telegram", "line":
		return ruleSession
	}
	return ruleNone
}

type window struct {
	rule      windowRule
	expireAt  *time.Time
	permanent bool
}

// serviceWindow is the window on a platform given the contact's last inbound message (nil if
// it never wrote).
func serviceWindow(platformID string, last *time.Time) window {
	w := window{rule: ruleFor(platformID)}
	switch w.rule {
	case ruleWindow:
		if last != nil {
			exp := last.Add(ServiceWindow)
			w.expireAt = &exp
		}
	case ruleSession:
		w.permanent = last != nil
	case ruleNone:
		w.permanent = true
	}
	return w
}
