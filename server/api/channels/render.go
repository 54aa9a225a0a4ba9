package channels

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
	"github.com/switchboard-dev/switchboard/store"
)

var channelCodes = map[int]string{
	400: "InvalidRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
	409: "Conflict", 413: "PayloadTooLarge", 429: "TooManyRequests", 431: "RequestHeaderFieldsTooLarge",
	503: "ServiceUnavailable",
}

// Render writes the Channels API's documented (Bird) error body, RequestError
// {code, message}, with details grouping the problems of a 400 by field.
func Render(c echo.Context, p *problem.Problem) error {
	code, ok := channelCodes[p.Status]
	if !ok {
		code = "InternalError"
	}
	body := struct {
		Code    string              `json:"code"`
		Message string              `json:"message"`
		Details map[string][]string `json:"details,omitempty"`
	}{Code: code, Message: p.Message}
	if errors.Is(p.Cause, store.ErrNotFound) {
		// Bird's wording for a missing resource.
		body.Message = "The requested resource does not exist: " + strings.ToLower(p.Message)
	}
	if p.Status == http.StatusBadRequest && p.Message == problem.ValidationFailed {
		body.Message = "The request did not pass validation" // Bird's wording for a RequestError 400
	}
	if len(p.Details) > 0 {
		body.Details = map[string][]string{}
		for _, d := range p.Details {
			field := d.Field
			if field == "" {
				field = "body"
			}
			body.Details[field] = append(body.Details[field], d.Message)
		}
	}
	return c.JSON(p.Status, body)
}
