-- Webhook messages, deliveries, attempts and the Ingest ledger, range-partitioned by time, one
-- partition per UTC day, so that retention drops whole partitions (store/partition.go) instead
-- of deleting rows one by one, and a table's cost stays flat as it grows.
--
-- The partition key is the primary key, id. Ids are version 7 UUIDs (store.newID): their first
-- 48 bits are the Unix time in milliseconds, so a range of ids is a range of time, a lookup by
-- id (a job's delivery id, a message's pk) is pruned to one partition, and PRIMARY KEY (id)
-- stays legal (a unique constraint on a partitioned table must include the partition key).
--
-- What the partitioning changes, and why:
--
-- * Deliveries get deterministic ids: webhook_delivery_id(owner, target) is the owner's (the
--   message's or the event's) millisecond prefix followed by a hash of (owner, target). So a
--   delivery lands in its owner's partition, the deliveries of an owner are a range of ids
--   (webhook_owner_lo/hi: a lookup by message or event touches one partition), and the
--   primary key itself enforces what UNIQUE (message_pk, endpoint_id) and the partial UNIQUE
--   (event_pk, destination_id) did, which a partitioned table cannot have (they lack the
--   partition key): ON CONFLICT (id) replaces ON CONFLICT on those pairs. 74 bits of MD5 per
--   millisecond and owner: two targets of one owner colliding is not a practical concern.
--   gen_random_uuid() made delivery ids until now; those rows keep their ids (River jobs in
--   flight name them in their args), see webhook_owner_lo below.
--
-- * (app_id, message_id) and (app_id, idempotency_key) stay unique through a narrow key table,
--   webhook_message_keys, not partitioned: the send inserts the key first (ON CONFLICT DO
--   NOTHING) and the message only for a key it got. Lookups by message id go through it, one
--   index probe and then the message by its pk, instead of one probe per partition.
--
-- * No foreign key between two partitioned tables (deliveries -> messages, deliveries ->
--   events, attempts -> deliveries): dropping a referenced partition would fail while rows
--   refer to it, and retention deletes a message's deliveries and attempts itself anyway.
--   What those cascades did is kept by foreign keys to the unpartitioned owners: attempts now
--   reference their endpoint or destination too (deleting an endpoint, recipient, app or
--   destination removes its deliveries and attempts, as before), the key table its recipient,
--   and a trigger on ingest_sources removes the deliveries and attempts of a deleted source's
--   events.
--
-- * Each table has a DEFAULT partition, for rows older than any partition (existing rows of
--   earlier days, test rows aged into the past) and for rows beyond the last one should the
--   maintenance job not have run: an insert never fails for want of a partition. Creating a
--   partition first moves the DEFAULT's rows of its range into it
--   (switchboard_ensure_partition), as a DEFAULT holding rows of a new partition's range would
--   make the creation fail.
--
-- Existing rows move into the new tables with their ids unchanged, in this migration's
-- transaction.
--
-- Writing rows directly (a COPY, a benchmark's loader) must keep what the code relies on: a
-- message's or an event's id is a version 7 UUID of its created_at / received_at; every
-- message has its row in webhook_message_keys; a delivery's id is webhook_delivery_id(message
-- or event id, endpoint or destination id) (store.DeliveryID in Go); an attempt's id is a
-- version 7 UUID of its created_at, not before its message's; and the days' partitions are
-- made first (switchboard_ensure_partition, store.EnsurePartitions), or the rows land in the
-- DEFAULT partitions.

-- The milliseconds of a version 7 UUID, and the least UUID of a millisecond.
CREATE FUNCTION switchboard_id_ms(id uuid) RETURNS bigint IMMUTABLE PARALLEL SAFE LANGUAGE sql
    AS $$ SELECT ('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint $$;
CREATE FUNCTION switchboard_id_floor(ms bigint) RETURNS uuid IMMUTABLE PARALLEL SAFE LANGUAGE sql
    AS $$ SELECT (lpad(to_hex(ms), 12, '0') || '00000000000000000000')::uuid $$;

-- A delivery's id: its owner's millisecond, then 74 bits of MD5(owner, target), with the
-- version (7) and variant bits of a UUID. store.DeliveryID is the same in Go. One expression
-- (the planner inlines it into the send statement instead of calling a function per delivery):
-- bytes 7 to 16 are MD5's first 10, of which the first and third carry the version and variant.
CREATE FUNCTION webhook_delivery_id(owner uuid, target uuid) RETURNS uuid IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $$
    SELECT encode(set_byte(set_byte(
        overlay(uuid_send(owner) PLACING substring(decode(md5(owner::text || target::text), 'hex') FROM 1 FOR 10) FROM 7),
        6, (get_byte(decode(md5(owner::text || target::text), 'hex'), 0) & 15) | 112),
        8, (get_byte(decode(md5(owner::text || target::text), 'hex'), 2) & 63) | 128), 'hex')::uuid
$$;

ALTER TABLE webhook_messages RENAME TO webhook_messages_old;
ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_old;
ALTER TABLE webhook_attempts RENAME TO webhook_attempts_old;
ALTER TABLE ingest_events RENAME TO ingest_events_old;
-- Index (and key constraint) names are the schema's: the new tables take them.
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid IN ('webhook_messages_old'::regclass, 'webhook_deliveries_old'::regclass,
            'webhook_attempts_old'::regclass, 'ingest_events_old'::regclass)
    LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', r.relname, r.relname || '_old');
    END LOOP;
END $$;

-- The deliveries of an owner (a message or an event) are the ids from webhook_owner_lo(owner)
-- to webhook_owner_hi(owner): its millisecond. Deliveries made before this migration have
-- random ids, anywhere; their owners are all older than the bound written into these
-- functions here (none on a database that had no delivery), and for those the range is every
-- id. Such owners age out with the retention.
DO $do$
DECLARE
    bound uuid := '00000000-0000-0000-0000-000000000000';
    ms bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM webhook_deliveries_old) THEN
        ms := greatest(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint,
            coalesce((SELECT switchboard_id_ms(id) FROM webhook_messages_old ORDER BY id DESC LIMIT 1), 0),
            coalesce((SELECT switchboard_id_ms(id) FROM ingest_events_old ORDER BY id DESC LIMIT 1), 0));
        bound := switchboard_id_floor(ms + 60000);
    END IF;
    EXECUTE format($f$CREATE FUNCTION webhook_owner_lo(owner uuid) RETURNS uuid IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $b$
        SELECT CASE WHEN owner < %1$L::uuid THEN '00000000-0000-0000-0000-000000000000'::uuid
            ELSE switchboard_id_floor(switchboard_id_ms(owner)) END $b$$f$, bound);
    EXECUTE format($f$CREATE FUNCTION webhook_owner_hi(owner uuid) RETURNS uuid IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $b$
        SELECT CASE WHEN owner < %1$L::uuid THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
            ELSE (lpad(to_hex(switchboard_id_ms(owner)), 12, '0') || 'ffffffffffffffffffff')::uuid END $b$$f$, bound);
END $do$;

CREATE TABLE webhook_messages (
    id               uuid        NOT NULL,
    -- No foreign key to webhook_apps (0004 had one): deleting an app deletes its recipients,
    -- which delete their messages, and a send pays one foreign key check fewer.
    app_id           uuid        NOT NULL,
    message_id       text        NOT NULL,
    idempotency_key  text,
    recipient_pk     uuid        NOT NULL REFERENCES webhook_recipients (id) ON DELETE CASCADE,
    recipient_id     text        NOT NULL,
    event_type       text        NOT NULL,
    -- The exact bytes every attempt sends and signs.
    body             text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX webhook_messages_app_idx ON webhook_messages (app_id, id);
CREATE INDEX webhook_messages_recipient_idx ON webhook_messages (recipient_pk, id);
CREATE TABLE webhook_messages_default PARTITION OF webhook_messages DEFAULT;

-- What makes a message id, and an idempotency key, unique in its app: one row per message.
CREATE TABLE webhook_message_keys (
    app_id           uuid NOT NULL,
    message_id       text NOT NULL,
    idempotency_key  text,
    message_pk       uuid NOT NULL,
    -- Deleting a recipient deletes its messages (and an app its recipients): their keys go too.
    recipient_pk     uuid NOT NULL REFERENCES webhook_recipients (id) ON DELETE CASCADE,
    PRIMARY KEY (app_id, message_id)
);
CREATE UNIQUE INDEX webhook_message_keys_idempotency_key ON webhook_message_keys (app_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX webhook_message_keys_recipient_idx ON webhook_message_keys (recipient_pk);

-- One row per (message, endpoint) or (event, destination): where that delivery stands.
CREATE TABLE webhook_deliveries (
    id               uuid        NOT NULL,
    message_pk       uuid,
    endpoint_id      uuid REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           text        NOT NULL CHECK (status IN ('pending', 'held', 'delivered', 'failed')),
    attempts         int         NOT NULL DEFAULT 0,
    last_status_code int,
    last_error       text,
    next_attempt_at  timestamptz,
    delivered_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    event_pk         uuid,
    destination_id   uuid REFERENCES ingest_destinations (id) ON DELETE CASCADE,
    CONSTRAINT webhook_deliveries_target CHECK (
        (message_pk IS NOT NULL AND endpoint_id IS NOT NULL AND event_pk IS NULL AND destination_id IS NULL) OR
        (message_pk IS NULL AND endpoint_id IS NULL AND event_pk IS NOT NULL AND destination_id IS NOT NULL)),
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
-- By owner (with the status: retention asks whether an owner still has one pending or held),
-- and by target. Each kind's rows only in its own indexes, as before.
CREATE INDEX webhook_deliveries_message_idx ON webhook_deliveries (message_pk, status) WHERE message_pk IS NOT NULL;
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_pk, status) WHERE event_pk IS NOT NULL;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status) WHERE endpoint_id IS NOT NULL;
CREATE INDEX webhook_deliveries_destination_idx ON webhook_deliveries (destination_id, status) WHERE destination_id IS NOT NULL;
CREATE TABLE webhook_deliveries_default PARTITION OF webhook_deliveries DEFAULT;

-- Every attempt; its id is made when it is recorded, so an attempt is in the partition of its
-- time, not of its message's.
CREATE TABLE webhook_attempts (
    id                    uuid        NOT NULL,
    delivery_id           uuid        NOT NULL,
    message_pk            uuid,
    endpoint_id           uuid REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    attempt_number        int         NOT NULL,
    trigger               text        NOT NULL CHECK (trigger IN ('scheduled', 'replay')),
    status                text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
    response_status_code  int,
    response_body         text,
    duration_ms           int         NOT NULL,
    error                 text,
    next_attempt_at       timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    event_pk              uuid,
    destination_id        uuid REFERENCES ingest_destinations (id) ON DELETE CASCADE,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);
CREATE INDEX webhook_attempts_message_idx ON webhook_attempts (message_pk, id) WHERE message_pk IS NOT NULL;
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id) WHERE endpoint_id IS NOT NULL;
CREATE INDEX webhook_attempts_event_idx ON webhook_attempts (event_pk, id) WHERE event_pk IS NOT NULL;
CREATE INDEX webhook_attempts_destination_idx ON webhook_attempts (destination_id, id) WHERE destination_id IS NOT NULL;
CREATE TABLE webhook_attempts_default PARTITION OF webhook_attempts DEFAULT;

-- The ledger: one row per request a source's URL received (with its token right).
CREATE TABLE ingest_events (
    id                    uuid        NOT NULL,
    workspace_id          uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source_id             uuid        NOT NULL REFERENCES ingest_sources (id) ON DELETE CASCADE,
    status                text        NOT NULL CHECK (status IN ('accepted', 'rejected', 'duplicate')),
    rejection_cause       text,
    verification_status   text        NOT NULL CHECK (verification_status IN ('verified', 'failed', 'unchecked')),
    verification_scheme   text        NOT NULL,
    failure_reason        text,
    provider_event_id     text,
    duplicate_of          uuid,
    event_type            text,
    method                text        NOT NULL,
    query                 text        NOT NULL DEFAULT '',
    -- The request's headers, credentials redacted: name -> values.
    headers               jsonb       NOT NULL,
    content_type          text        NOT NULL DEFAULT '',
    -- The body byte for byte (NULL when it was refused for its size).
    body                  bytea,
    body_size             int         NOT NULL,
    received_at           timestamptz NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX ingest_events_workspace_idx ON ingest_events (workspace_id, id);
CREATE INDEX ingest_events_source_idx ON ingest_events (source_id, id);
CREATE TABLE ingest_events_default PARTITION OF ingest_events DEFAULT;

-- Deleting a source deletes its events (their foreign key); their deliveries and attempts,
-- whose foreign keys to the events are gone, are deleted here, before the events are.
CREATE FUNCTION ingest_source_delete_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM webhook_attempts WHERE event_pk IN (SELECT id FROM ingest_events WHERE source_id = OLD.id);
    DELETE FROM webhook_deliveries WHERE event_pk IN (SELECT id FROM ingest_events WHERE source_id = OLD.id);
    RETURN OLD;
END $$;
CREATE TRIGGER ingest_source_delete_deliveries BEFORE DELETE ON ingest_sources
    FOR EACH ROW EXECUTE FUNCTION ingest_source_delete_deliveries();

-- Makes the partition of day of a table partitioned here, unless it exists, and reports
-- whether it did. The DEFAULT partition's rows of the day move into it first: it is created
-- standalone, filled, and attached (ATTACH takes a SHARE UPDATE EXCLUSIVE lock on the table,
-- where CREATE TABLE … PARTITION OF would take an ACCESS EXCLUSIVE one). Callers serialise on
-- an advisory lock (store.EnsurePartitions).
CREATE FUNCTION switchboard_ensure_partition(parent regclass, day date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    name text := parent::text || '_p' || to_char(day, 'YYYYMMDD');
    lo uuid := switchboard_id_floor((extract(epoch FROM day::timestamp) * 1000)::bigint);
    hi uuid := switchboard_id_floor((extract(epoch FROM (day + 1)::timestamp) * 1000)::bigint);
BEGIN
    IF to_regclass(name) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE id >= %L AND id < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
        parent::text || '_default', lo, hi, name);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', parent, name, lo, hi);
    RETURN true;
END $$;

-- Today's partitions and a week's ahead (the maintenance job keeps it so), before the rows move
-- in, so that a fresh database works before the job has run.
SELECT switchboard_ensure_partition(t, (now() AT TIME ZONE 'UTC')::date + d)
FROM unnest(ARRAY['webhook_messages', 'webhook_deliveries', 'webhook_attempts', 'ingest_events']::regclass[]) AS t,
    generate_series(0, 7) AS d;

INSERT INTO webhook_messages (id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at)
SELECT id, app_id, message_id, idempotency_key, recipient_pk, recipient_id, event_type, body, created_at FROM webhook_messages_old;
INSERT INTO webhook_message_keys (app_id, message_id, idempotency_key, message_pk, recipient_pk)
SELECT app_id, message_id, idempotency_key, id, recipient_pk FROM webhook_messages_old;
INSERT INTO webhook_deliveries (id, message_pk, endpoint_id, status, attempts, last_status_code, last_error, next_attempt_at,
    delivered_at, updated_at, event_pk, destination_id)
SELECT id, message_pk, endpoint_id, status, attempts, last_status_code, last_error, next_attempt_at,
    delivered_at, updated_at, event_pk, destination_id FROM webhook_deliveries_old;
INSERT INTO webhook_attempts (id, delivery_id, message_pk, endpoint_id, attempt_number, trigger, status, response_status_code,
    response_body, duration_ms, error, next_attempt_at, created_at, event_pk, destination_id)
SELECT id, delivery_id, message_pk, endpoint_id, attempt_number, trigger, status, response_status_code,
    response_body, duration_ms, error, next_attempt_at, created_at, event_pk, destination_id FROM webhook_attempts_old;
INSERT INTO ingest_events (id, workspace_id, source_id, status, rejection_cause, verification_status, verification_scheme,
    failure_reason, provider_event_id, duplicate_of, event_type, method, query, headers, content_type, body, body_size, received_at)
SELECT id, workspace_id, source_id, status, rejection_cause, verification_status, verification_scheme,
    failure_reason, provider_event_id, duplicate_of, event_type, method, query, headers, content_type, body, body_size, received_at
FROM ingest_events_old;

DROP TABLE webhook_attempts_old;
DROP TABLE webhook_deliveries_old;
DROP TABLE webhook_messages_old;
DROP TABLE ingest_events_old;

ANALYZE webhook_messages, webhook_message_keys, webhook_deliveries, webhook_attempts, ingest_events;
