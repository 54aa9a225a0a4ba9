package webhooks

import (
	"maps"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/switchboard-dev/switchboard/server/problem"
)

// codes are problem.Codes (the Admin API's), but for a 429: the Webhooks API answers one only past
// a plan limit.
var codes = func() map[int]string {
	codes := maps.Clone(problem.Codes)
	codes[http.StatusTooManyRequests] = "plan_limit_reached"
	return codes
}()

// Render writes the Webhooks API's error body: {code, message, details?}, where a 429's
// single detail names the plan limit.
func Render(c echo.Context, p *problem.Problem) error { return problem.RenderCoded(c, p, codes) }
