package ingest

import (
	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

// Render writes the Ingest API's error body, the Dispatch side's: {code, message, details?}.
// The receiving URL answers its errors in it too.
func Render(c echo.Context, p *problem.Problem) error {
	return problem.RenderCoded(c, p, problem.Codes)
}
