-- An activity's CREATED status event is now the activity row itself (see
-- store.ListStatusEvents); drop the ones stored before, which would show twice.
DELETE FROM activity_status_events WHERE event_type = 'CREATED';
