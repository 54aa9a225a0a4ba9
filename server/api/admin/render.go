package admin

import (
	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

// Render writes the Admin API's error body, {code, message, details[{field, message}]}.
func Render(c echo.Context, p *problem.Problem) error {
	return problem.RenderCoded(c, p, problem.Codes)
}
