package store

// Issue statements the delivery engine runs for destinations (webhookendpoint.go's
// TargetFailed and TargetSucceeded); the rest of the issue lifecycle is below them.

// reopenSQL is the ON CONFLICT action of an issue's new occurrence: counted and seen, and, by
// Hookdeck's rules, a resolved issue opens again (with this occurrence as its reference) while
// an ignored one never does. Acknowledged and open issues only count.
const reopenSQL = `DO UPDATE SET occurrences = x.occurrences + EXCLUDED.occurrences, last_seen_at = EXCLUDED.last_seen_at,
		updated_at = now(),
		status = CASE WHEN x.status = 'resolved' THEN 'open' ELSE x.status END,
		opened_at = CASE WHEN x.status = 'resolved' THEN EXCLUDED.opened_at ELSE x.opened_at END,
		ref_event_id = CASE WHEN x.status = 'resolved' THEN EXCLUDED.ref_event_id ELSE x.ref_event_id END,
		ref_attempt_id = CASE WHEN x.status = 'resolved' THEN EXCLUDED.ref_attempt_id ELSE x.ref_attempt_id END,
		acknowledged_at = CASE WHEN x.status = 'resolved' THEN NULL ELSE x.acknowledged_at END,
		resolved_at = CASE WHEN x.status = 'resolved' THEN NULL ELSE x.resolved_at END,
		auto_resolved_at = CASE WHEN x.status = 'resolved' THEN NULL ELSE x.auto_resolved_at END`

// issueConflict is the target of every issue upsert: the unique index ingest_issues_group_key.
const issueConflict = `ON CONFLICT (type, coalesce(source_id, destination_id), kind) `

// deliveryIssueSQL counts a failed attempt at destination $1 (delivery $3, failure kind $4) in
// its delivery issue, opening one with id $5 if there is none.
const deliveryIssueSQL = `INSERT INTO ingest_issues AS x (id, workspace_id, type, destination_id, kind, ref_event_id, ref_attempt_id,
			first_seen_at, last_seen_at, opened_at)
		SELECT $5, t.workspace_id, 'delivery', t.id, $4, d.event_pk,
			(SELECT a.id FROM webhook_attempts a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1), now(), now(), now()
		FROM ingest_destinations t JOIN webhook_deliveries d ON d.id = $3 WHERE t.id = $1
		` + issueConflict + reopenSQL + ` RETURNING x.id`

// resolveDeliveryIssuesSQL resolves destination $1's open and acknowledged delivery issues
// after a successful attempt (the main statement of a WITH whose CTEs clear its failure record).
const resolveDeliveryIssuesSQL = `UPDATE ingest_issues SET status = 'resolved', resolved_at = now(), auto_resolved_at = now(),
		updated_at = now() WHERE destination_id = $1 AND type = 'delivery' AND status IN ('open', 'acknowledged')`
