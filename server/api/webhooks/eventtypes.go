package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	api "github.com/switchboard-dev/switchboard/gen/webhooks"
	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

// ListEventTypes lists an app's event types.
func (h *Handler) ListEventTypes(ctx context.Context, req api.ListEventTypesRequestObject) (api.ListEventTypesResponseObject, error) {
	archived := req.Params.IncludeArchived != nil && *req.Params.IncludeArchived
	ets, err := h.DB.ListEventTypes(ctx, workspace(ctx), req.AppId, archived)
	if err != nil {
		return nil, err
	}
	out := api.ListEventTypes200JSONResponse{Data: make([]api.EventType, 0, len(ets))}
	for _, et := range ets {
		out.Data = append(out.Data, toEventType(et))
	}
	return out, nil
}

// GetEventType fetches an event type.
func (h *Handler) GetEventType(ctx context.Context, req api.GetEventTypeRequestObject) (api.GetEventTypeResponseObject, error) {
	et, err := h.DB.GetEventType(ctx, workspace(ctx), req.AppId, req.EventTypeName)
	if err != nil {
		return nil, err
	}
	return api.GetEventType200JSONResponse(toEventType(et)), nil
}

// PublishEventType creates or replaces an event type; its schema must compile.
func (h *Handler) PublishEventType(ctx context.Context, req api.PublishEventTypeRequestObject) (api.PublishEventTypeResponseObject, error) {
	b := req.Body
	in := store.EventTypePut{Archived: b.Archived != nil && *b.Archived}
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.ExamplePayload != nil {
		in.ExamplePayload = *b.ExamplePayload
	}
	if b.Schema != nil {
		in.Schema = *b.Schema
		s, err := compileSchema(in.Schema)
		if err != nil {
			return nil, problem.Invalid("schema is not a valid JSON Schema", problem.Detail{Field: "schema", Message: err.Error()})
		}
		if len(in.ExamplePayload) > 0 {
			if details := validate(s, in.ExamplePayload, "examplePayload"); len(details) > 0 {
				return nil, problem.Invalid("examplePayload does not match the schema", details...)
			}
		}
	}
	et, created, err := h.DB.PutEventType(ctx, workspace(ctx), req.AppId, req.EventTypeName, in)
	if err != nil {
		return nil, err
	}
	if created {
		return api.PublishEventType201JSONResponse(toEventType(et)), nil
	}
	return api.PublishEventType200JSONResponse(toEventType(et)), nil
}

// ArchiveEventType archives an event type.
func (h *Handler) ArchiveEventType(ctx context.Context, req api.ArchiveEventTypeRequestObject) (api.ArchiveEventTypeResponseObject, error) {
	et, err := h.DB.ArchiveEventType(ctx, workspace(ctx), req.AppId, req.EventTypeName)
	if err != nil {
		return nil, err
	}
	return api.ArchiveEventType200JSONResponse(toEventType(et)), nil
}

func toEventType(et store.EventType) api.EventType {
	out := api.EventType{Name: et.Name, Description: et.Description, Archived: et.ArchivedAt != nil,
		ExamplePayload: nullable.NewNullNullable[json.RawMessage](), Schema: nullable.NewNullNullable[json.RawMessage](),
		CreatedAt: et.CreatedAt.UTC(), UpdatedAt: et.UpdatedAt.UTC()}
	if len(et.ExamplePayload) > 0 {
		out.ExamplePayload = nullable.NewNullableWithValue(json.RawMessage(et.ExamplePayload))
	}
	if len(et.Schema) > 0 {
		out.Schema = nullable.NewNullableWithValue(json.RawMessage(et.Schema))
	}
	return out
}

// compileSchema compiles a JSON Schema given as JSON. References to other documents are not
// loaded (no loader is set): a schema cannot make the server read files or call URLs.
func compileSchema(schema json.RawMessage) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	const loc = "urn:switchboard:event-type-schema"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(loc)
	if err != nil {
		// The library's messages carry the resource URL; it means nothing to the caller.
		return nil, errors.New(strings.ReplaceAll(err.Error(), loc, "schema"))
	}
	return s, nil
}

// schemaCache keeps compiled schemas by event type and version, so a send validates without
// compiling.
type schemaCache struct {
	m sync.Map // schemaKey → *jsonschema.Schema
}

type schemaKey struct {
	app     uuid.UUID
	name    string
	version time.Time
}

var printer = message.NewPrinter(language.English)

// compiled returns an event type's schema compiled, compiling it only the first time this
// version of the type is asked for.
func (c *schemaCache) compiled(app uuid.UUID, name string, version time.Time, schema json.RawMessage) (*jsonschema.Schema, error) {
	key := schemaKey{app, name, version}
	if v, ok := c.m.Load(key); ok {
		return v.(*jsonschema.Schema), nil
	}
	s, err := compileSchema(schema)
	if err != nil {
		return nil, err
	}
	c.m.Store(key, s)
	return s, nil
}

// validate checks data against s and returns one detail per failing keyword, fields prefixed
// with field.
func validate(s *jsonschema.Schema, data json.RawMessage, field string) []problem.Detail {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return []problem.Detail{{Field: field, Message: "is not valid JSON"}}
	}
	err = s.Validate(inst)
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []problem.Detail
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			f := strings.Join(append([]string{field}, e.InstanceLocation...), ".")
			out = append(out, problem.Detail{Field: f, Message: e.ErrorKind.LocalizedString(printer)})
			return
		}
		for _, cause := range e.Causes {
			walk(cause)
		}
	}
	walk(ve)
	if len(out) > 20 {
		out = append(out[:20], problem.Detail{Message: fmt.Sprintf("and %d more", len(out)-20)})
	}
	return out
}
