-- An endpoint's rate limit is shared by every server process: its next free delivery slot
-- (the theoretical arrival time of the generic cell rate algorithm) is kept on its row.
ALTER TABLE webhook_endpoints ADD COLUMN rate_tat timestamptz;
