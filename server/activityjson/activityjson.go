// Package activityjson writes an activity as the Activities API's Activity JSON object, by
// hand from the stored row. Two sides need it: the API's answer to a create (where encoding
// the generated types by reflection was the largest cost after the database), and the body a
// REST provider receives when the activity is dispatched to it. Neither imports the other.
package activityjson

import (
	"bytes"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/switchboard-dev/switchboard/store"
	"github.com/switchboard-dev/switchboard/store/jsonappend"
)

// Append writes a as the Activities API's Activity object: the fields the API answers, in the
// order of the generated type's fields (server/api/activities' ToAPI builds that type; its test
// holds the two equal), its target user and resolved attributes included. It is also the body a
// REST provider receives (the worker locks the target user in a first).
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
	b = jsonappend.MillisTime(b, a.CreatedAt.UTC())
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
	b = append(b, `},"resolvedAttributes":[`...)
	for i, e := range a.ResolvedAttributes {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAttribute(b, a.ID, e)
	}
	b = append(b, `],"scheduledAt":`...)
	b = jsonappend.MillisTime(b, a.ScheduledAt.UTC())
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
		b = jsonappend.MillisTime(b, a.SuggestedExecutionTime.UTC())
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"targetCriteria":`...)
	b = appendArray(b, a.TargetCriteria)
	b = append(b, `,"targetUser":`...)
	if a.Target != nil {
		b = AppendTargetUser(b, *a.Target)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"type":`...)
	b = jsonappend.String(b, a.Type)
	b = append(b, `,"updatedAt":`...)
	b = jsonappend.MillisTime(b, a.UpdatedAt.UTC())
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

// AppendTargetUser writes t as the Activities API's TargetUser object.
func AppendTargetUser(b []byte, t store.TargetUser) []byte {
	b = append(b, `{"commerceUser":`...)
	if t.CommerceUserID != nil {
		b = append(b, `{"firstName":`...)
		b = appendStringOrNull(b, t.FirstName)
		b = append(b, `,"lastName":`...)
		b = appendStringOrNull(b, t.LastName)
		b = append(b, `},"commerceUserId":"`...)
		b = append(b, t.CommerceUserID.String()...)
		b = append(b, '"')
	} else {
		b = append(b, `null,"commerceUserId":null`...)
	}
	b = append(b, `,"contact":`...)
	if c := t.Contact; c != nil {
		b = append(b, `{"id":"`...)
		b = append(b, c.ID.String()...)
		b = append(b, `","type":`...)
		b = jsonappend.String(b, c.Type)
		b = append(b, `,"value":`...)
		b = jsonappend.String(b, c.Value)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"createdAt":`...)
	b = jsonappend.MillisTime(b, t.CreatedAt)
	b = append(b, `,"errorMessage":`...)
	b = appendStringOrNull(b, t.ErrorMessage)
	b = append(b, `,"id":"`...)
	b = append(b, t.ID.String()...)
	b = append(b, `","lockReason":`...)
	b = appendStringOrNull(b, t.LockReason)
	b = append(b, `,"lockedAt":`...)
	b = appendTimeOrNull(b, t.LockedAt)
	b = append(b, `,"resolutionStatus":`...)
	b = jsonappend.String(b, t.Status)
	b = append(b, `,"resolutionStrategy":`...)
	b = jsonappend.String(b, t.Strategy)
	b = append(b, `,"resolvedAt":`...)
	b = appendTimeOrNull(b, t.ResolvedAt)
	b = append(b, `,"updatedAt":`...)
	b = jsonappend.MillisTime(b, t.UpdatedAt)
	return append(b, '}')
}

// appendAttribute writes e, an attribute of activity activityID, as the Activities API's
// ActivityAttribute object.
func appendAttribute(b []byte, activityID uuid.UUID, e store.ResolvedAttribute) []byte {
	b = append(b, `{"activityId":"`...)
	b = append(b, activityID.String()...)
	b = append(b, `","attributeKeyId":"`...)
	b = append(b, e.AttributeKeyID.String()...)
	b = append(b, `","createdAt":`...)
	b = jsonappend.MillisTime(b, e.CreatedAt)
	b = append(b, `,"errorMessage":`...)
	b = appendStringOrNull(b, e.ErrorMessage)
	b = append(b, `,"id":"`...)
	b = append(b, e.ID.String()...)
	b = append(b, `","key":`...)
	b = jsonappend.String(b, e.Key)
	b = append(b, `,"resolutionStatus":`...)
	b = jsonappend.String(b, e.Status)
	b = append(b, `,"resolutionStrategy":`...)
	b = jsonappend.String(b, e.Strategy)
	b = append(b, `,"resolvedAt":`...)
	b = appendTimeOrNull(b, e.ResolvedAt)
	b = append(b, `,"resolverType":`...)
	b = appendStringOrNull(b, e.ResolverType)
	b = append(b, `,"updatedAt":`...)
	b = jsonappend.MillisTime(b, e.UpdatedAt)
	b = append(b, `,"value":`...)
	if v := bytes.TrimSpace(e.Value); len(v) > 0 {
		b = append(b, v...) // a JSON document: compacted when stored, or as PostgreSQL prints jsonb
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

func appendTimeOrNull(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return jsonappend.MillisTime(b, *t)
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
