package calling

import (
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

// Render writes the Calling API's (FastAPI) error body: {"detail": "<message>"}, or for
// an invalid request {"detail": [{"loc", "msg", "type"}, ...]} with one entry per invalid field,
// loc being ["body", "pre_checks", 0, "name"] or ["query", "reseller_id"].
func Render(c echo.Context, p *problem.Problem) error {
	if len(p.Details) == 0 {
		return c.JSON(p.Status, map[string]any{"detail": p.Message})
	}
	type issue struct {
		Loc  []any  `json:"loc"`
		Msg  string `json:"msg"`
		Type string `json:"type"`
	}
	issues := make([]issue, 0, len(p.Details))
	for _, d := range p.Details {
		issues = append(issues, issue{Loc: fastAPILoc(d.Field), Msg: d.Message, Type: pydanticType(d.Type)})
	}
	return c.JSON(p.Status, map[string]any{"detail": issues})
}

// fastAPILoc turns a detail's dotted field ("pre_checks.0.name", "query.limit") into FastAPI's
// loc: where the value was sent, then the path to it, list indexes as numbers.
func fastAPILoc(field string) []any {
	parts := strings.Split(field, ".")
	loc := []any{}
	switch parts[0] {
	case "body", "query", "path", "header":
	default:
		loc = append(loc, "body")
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		if n, err := strconv.Atoi(p); err == nil {
			loc = append(loc, n)
			continue
		}
		loc = append(loc, p)
	}
	if len(loc) == 0 {
		loc = append(loc, "body")
	}
	return loc
}

// pydanticTypes names JSON Schema keyword failures the way pydantic (FastAPI) does.
var pydanticTypes = map[string]string{
	"required": "missing", "enum": "enum", "pattern": "string_pattern_mismatch", "format": "value_error",
	"minimum": "greater_than_equal", "maximum": "less_than_equal", "exclusiveMinimum": "greater_than",
	"exclusiveMaximum": "less_than", "minLength": "string_too_short", "maxLength": "string_too_long",
	"minItems": "too_short", "maxItems": "too_long", "additionalProperties": "extra_forbidden",
	"type": "type_error", "json": "json_invalid",
}

func pydanticType(t string) string {
	if p, ok := pydanticTypes[t]; ok {
		return p
	}
	if t == "" || !strings.Contains(t, "_") && t != "missing" {
		return "value_error"
	}
	return t
}
