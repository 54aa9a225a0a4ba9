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
	if err == nil {
		err = refCycle(s)
	}
	if err != nil {
		// The library's messages carry the resource URL; it means nothing to the caller.
		return nil, errors.New(strings.ReplaceAll(err.Error(), loc, "schema"))
	}
	return s, nil
}

// refCycle reports a schema that leads back to itself without moving into the data ({"$ref":
// "#"}, or $defs referring to each other through $ref, allOf, anyOf, oneOf, not, if/then/else
// or dependent schemas): validating any data that reaches it never ends, and the validator
// refuses it, so every message of the type would be refused. A cycle through a keyword that
// applies to a part of the data (properties, items, …) is fine: the data is finite.
func refCycle(root *jsonschema.Schema) error {
	// Every subschema, then the cycles among the edges that stay on the same data.
	all := []*jsonschema.Schema{}
	seen := map[*jsonschema.Schema]bool{}
	for todo := []*jsonschema.Schema{root}; len(todo) > 0; {
		s := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if s == nil || seen[s] {
			continue
		}
		seen[s] = true
		all = append(all, s)
		todo = append(append(todo, sameData(s)...), parts(s)...)
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[*jsonschema.Schema]int{}
	var visit func(s *jsonschema.Schema) error
	visit = func(s *jsonschema.Schema) error {
		switch state[s] {
		case visiting:
			return fmt.Errorf("refers back to %s without applying to a part of the data, so no data could ever be validated against it", s.Location)
		case done:
			return nil
		}
		state[s] = visiting
		for _, n := range sameData(s) {
			if n == nil {
				continue
			}
			if err := visit(n); err != nil {
				return err
			}
		}
		state[s] = done
		return nil
	}
	for _, s := range all {
		if err := visit(s); err != nil {
			return err
		}
	}
	return nil
}

// sameData are the subschemas of s that apply to the same data as s.
func sameData(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.Ref, s.RecursiveRef, s.Not, s.If, s.Then, s.Else}
	if s.DynamicRef != nil {
		out = append(out, s.DynamicRef.Ref)
	}
	out = append(out, s.AllOf...)
	out = append(out, s.AnyOf...)
	out = append(out, s.OneOf...)
	for _, d := range s.DependentSchemas {
		out = append(out, d)
	}
	for _, d := range s.Dependencies {
		if ds, ok := d.(*jsonschema.Schema); ok {
			out = append(out, ds)
		}
	}
	return out
}

// parts are the subschemas of s that apply to parts of the data (a property, an item, …).
func parts(s *jsonschema.Schema) []*jsonschema.Schema {
	out := []*jsonschema.Schema{s.PropertyNames, s.UnevaluatedProperties, s.Contains, s.Items2020, s.UnevaluatedItems,
		s.ContentSchema}
	for _, p := range s.Properties {
		out = append(out, p)
	}
	for _, p := range s.PatternProperties {
		out = append(out, p)
	}
	out = append(out, s.PrefixItems...)
	for _, v := range []any{s.AdditionalProperties, s.Items, s.AdditionalItems} {
		switch x := v.(type) {
		case *jsonschema.Schema:
			out = append(out, x)
		case []*jsonschema.Schema:
			out = append(out, x...)
		}
	}
	return out
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
