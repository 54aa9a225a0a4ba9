// Package activityjson writes an activity as the Activities API's Activity JSON object, by
// hand from the stored row. Two sides need it: the API's answer to a create (where encoding
// the generated types by reflection was the largest cost after the database), and the body a
// REST provider receives when the activity is dispatched to it. Neither imports the other.
package activityjson

import (
	"bytes"
	"strconv"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// Append writes a as the Activities API's Activity object: the fields the API answers, in the
// order of the generated type's fields (server/api/activities' ToAPI builds that type; its test
// holds the two equal).
func Append(b []byte, a store.Activity) []byte {
	b = append(b, `{"attributeKeys":[`...)
	for i, k := range a.AttributeKeys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, k)
	}
	b = append(b, `],"attributes":`...)
	b = appendArray(b, a.Attributes)
	b = append(b, `,"channel":`...)
	b = jsonappend.String(b, a.Channel)
	b = append(b, `,"commerceAssignment":{"assignmentReason":`...)
	b = appendStringOrNull(b, a.AssignmentReason)
	b = append(b, `,"commerce":{"name":`...)
	b = jsonappend.String(b, a.CommerceName)
	b = append(b, `},"commerceId":"`...)
	b = append(b, a.CommerceID.String()...)
	b = append(b, `"},"createdAt":`...)
	b = jsonappend.Time(b, a.CreatedAt.UTC())
	b = append(b, `,"dispatchAttemptCount":`...)
	b = strconv.AppendInt(b, int64(a.DispatchAttemptCount), 10)
	b = append(b, `,"externalId":`...)
	b = appendStringOrNull(b, a.ExternalID)
	b = append(b, `,"id":"`...)
	b = append(b, a.ID.String()...)
	b = append(b, `","idempotencyKey":`...)
	b = jsonappend.String(b, a.IdempotencyKey)
	b = append(b, `,"reason":{"code":`...)
	b = jsonappend.String(b, a.ReasonCode)
	b = append(b, `,"label":`...)
	b = jsonappend.String(b, a.ReasonLabel)
	b = append(b, `},"scheduledAt":`...)
	b = jsonappend.Time(b, a.ScheduledAt.UTC())
	b = append(b, `,"score":`...)
	if a.Score != nil {
		b = strconv.AppendInt(b, int64(*a.Score), 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"status":`...)
	b = jsonappend.String(b, a.Status)
	b = append(b, `,"suggestedExecutionTime":`...)
	if a.SuggestedExecutionTime != nil {
		b = jsonappend.Time(b, a.SuggestedExecutionTime.UTC())
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"targetCriteria":`...)
	b = appendArray(b, a.TargetCriteria)
	b = append(b, `,"type":`...)
	b = jsonappend.String(b, a.Type)
	b = append(b, `,"updatedAt":`...)
	b = jsonappend.Time(b, a.UpdatedAt.UTC())
	b = append(b, `,"userStatus":`...)
	if a.UserStatusCode != nil && a.UserStatusLabel != nil {
		b = append(b, `{"code":`...)
		b = jsonappend.String(b, *a.UserStatusCode)
		b = append(b, `,"label":`...)
		b = jsonappend.String(b, *a.UserStatusLabel)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

// appendArray writes a stored JSON array (target criteria, attributes: the handler stored
// them encoded from the API's own types, so they need no reshaping), or [] for none.
func appendArray(b []byte, raw []byte) []byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return append(b, "[]"...)
	}
	return append(b, raw...)
}

func appendStringOrNull(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return jsonappend.String(b, *s)
}
