package activities

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

// Render writes the Activities API's documented (NestJS-style) error body.
func Render(c echo.Context, p *problem.Problem) error {
	body := map[string]any{"statusCode": p.Status, "message": p.Message, "error": http.StatusText(p.Status)}
	if len(p.Details) > 0 {
		errs := make([]string, len(p.Details))
		for i, d := range p.Details {
			errs[i] = d.String()
		}
		body["errors"] = errs
	}
	return c.JSON(p.Status, body)
}
