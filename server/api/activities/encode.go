package activities

import (
	"net/http"

	api "github.com/switchboard-dev/switchboard/gen/activities"
	"github.com/switchboard-dev/switchboard/server/activityjson"
	"github.com/switchboard-dev/switchboard/store"
)

// activityJSON is an activity already encoded as the API's Activity, answered as is. The
// create path writes it by hand (package activityjson): going through api.Activity decodes the
// stored target criteria and attributes only to encode them again, and encoding/json's
// reflection over the generated nullable fields was the largest cost of a create after the
// database. TestAppendActivity holds it equal to encoding ToAPI's result.
type activityJSON []byte

// VisitCreateActivityResponse answers 201 with the activity, as the generated
// CreateActivity201JSONResponse would.
func (b activityJSON) VisitCreateActivityResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, err := w.Write(b)
	return err
}

var _ api.CreateActivityResponseObject = activityJSON(nil)

// encodeActivity is the 201's body: the activity and a newline, as json.Encoder ends a value.
func encodeActivity(a store.Activity) activityJSON {
	return append(activityjson.Append(make([]byte, 0, 1024), a), '\n')
}
