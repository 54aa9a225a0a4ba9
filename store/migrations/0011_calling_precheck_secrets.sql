-- The Calling API's pre-check credentials (http_request.auth.token and .password) are sealed
-- like every other credential: pre_checks keeps the rest of each check, pre_check_secrets the
-- sealed credentials of each, by position (AES-256-GCM, bound to the configuration's id).
-- Configurations stored before this hold theirs in pre_checks until Migrate seals them (it
-- has the key; SQL has not).
ALTER TABLE calling_configs ADD COLUMN pre_check_secrets bytea;
