-- Webhooks API, Ingest side: sources (one vendor feed each, with its verification and its
-- public URL token), destinations (URLs events are forwarded to, with filters), the event
-- ledger, deduplication keys, issues and bulk replays.
--
-- Forwarding is not a second engine: an event's delivery to a destination is a row of
-- webhook_deliveries (and its attempts rows of webhook_attempts), worked by the same
-- webhook_delivery job as a message's delivery to an endpoint. A delivery carries either
-- (message_pk, endpoint_id) or (event_pk, destination_id).

CREATE TABLE ingest_sources (
    id                    uuid PRIMARY KEY,
    workspace_id          uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                  text        NOT NULL,
    type                  text        NOT NULL CHECK (type IN ('stripe', 'github', 'shopify', 'slack', 'twilio',
                                          'standard_webhooks', 'hmac', 'basic_auth', 'api_key', 'none')),
    status                text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- What verification needs besides the secret (algorithm, header, tolerance, username, ...).
    verification          jsonb       NOT NULL DEFAULT '{}',
    -- AES-256-GCM sealed (bound to the source id): the current secret (signing secret, password
    -- or API key), and a JSON list of previous ones with their expiry. NULL for type none.
    secret                bytea,
    old_secrets           bytea,
    -- The URL token, sealed (it is shown in the source's url), and its SHA-256, which a
    -- request's token is compared with; a rotated-out token stays valid until it expires.
    url_token             bytea       NOT NULL,
    token_hash            bytea       NOT NULL,
    old_token_hash        bytea,
    old_token_expires_at  timestamptz,
    dedup_window_seconds  int         NOT NULL,
    allowed_methods       text[]      NOT NULL,
    custom_response       jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingest_sources_workspace_idx ON ingest_sources (workspace_id, id);

CREATE TABLE ingest_destinations (
    id                     uuid PRIMARY KEY,
    workspace_id           uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                   text        NOT NULL,
    url                    text        NOT NULL,
    event_types            text[]      NOT NULL DEFAULT '{}',
    body_filter            jsonb,
    headers                jsonb       NOT NULL DEFAULT '{}',
    -- bearer | basic | api_key, its non-secret part (username, header name) in auth_config and
    -- the secret part sealed in auth_secret.
    auth_type              text CHECK (auth_type IN ('bearer', 'basic', 'api_key')),
    auth_config            jsonb,
    auth_secret            bytea,
    status                 text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
    disabled_reason        text,
    max_attempts           int         NOT NULL DEFAULT 8,
    rate_limit_per_minute  int,
    -- The delivery target's state, as on webhook_endpoints: signing secrets (sealed), the
    -- first failure since the last success, and the next rate-limit slot.
    secret                 bytea       NOT NULL,
    old_secrets            bytea,
    failing_since          timestamptz,
    rate_tat               timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingest_destinations_workspace_idx ON ingest_destinations (workspace_id, id);

-- Which sources a destination receives from.
CREATE TABLE ingest_destination_sources (
    destination_id  uuid NOT NULL REFERENCES ingest_destinations (id) ON DELETE CASCADE,
    source_id       uuid NOT NULL REFERENCES ingest_sources (id) ON DELETE CASCADE,
    PRIMARY KEY (destination_id, source_id)
);
CREATE INDEX ingest_destination_sources_source_idx ON ingest_destination_sources (source_id, destination_id);

-- The ledger: one row per request a source's URL received (with its token right).
CREATE TABLE ingest_events (
    id                    uuid PRIMARY KEY,
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
    received_at           timestamptz NOT NULL
);
CREATE INDEX ingest_events_workspace_idx ON ingest_events (workspace_id, id);
CREATE INDEX ingest_events_source_idx ON ingest_events (source_id, id);

-- Deduplication keys: a provider's event id seen at a source, until expires_at.
CREATE TABLE ingest_dedup (
    source_id          uuid        NOT NULL REFERENCES ingest_sources (id) ON DELETE CASCADE,
    provider_event_id  text        NOT NULL,
    event_pk           uuid        NOT NULL,
    expires_at         timestamptz NOT NULL,
    PRIMARY KEY (source_id, provider_event_id)
);
CREATE INDEX ingest_dedup_expires_idx ON ingest_dedup (expires_at);

-- The one delivery engine: deliveries and attempts carry a message at an endpoint, or an event
-- at a destination.
ALTER TABLE webhook_deliveries
    ALTER COLUMN message_pk DROP NOT NULL,
    ALTER COLUMN endpoint_id DROP NOT NULL,
    ADD COLUMN event_pk uuid REFERENCES ingest_events (id) ON DELETE CASCADE,
    ADD COLUMN destination_id uuid REFERENCES ingest_destinations (id) ON DELETE CASCADE,
    ADD CONSTRAINT webhook_deliveries_target CHECK (
        (message_pk IS NOT NULL AND endpoint_id IS NOT NULL AND event_pk IS NULL AND destination_id IS NULL) OR
        (message_pk IS NULL AND endpoint_id IS NULL AND event_pk IS NOT NULL AND destination_id IS NOT NULL));
-- Partial, so a message's delivery adds no entry to them.
CREATE UNIQUE INDEX webhook_deliveries_event_destination_key ON webhook_deliveries (event_pk, destination_id) WHERE event_pk IS NOT NULL;
CREATE INDEX webhook_deliveries_destination_idx ON webhook_deliveries (destination_id, status) WHERE destination_id IS NOT NULL;

ALTER TABLE webhook_attempts
    ALTER COLUMN message_pk DROP NOT NULL,
    ALTER COLUMN endpoint_id DROP NOT NULL,
    ADD COLUMN event_pk uuid,
    ADD COLUMN destination_id uuid;
CREATE INDEX webhook_attempts_event_idx ON webhook_attempts (event_pk, id) WHERE event_pk IS NOT NULL;
-- The Dispatch side's indexes skip the Ingest side's rows (and the other way round): each
-- kind's delivery and attempt adds entries only to its own, which an attempt's bookkeeping pays
-- for on every status change. Their queries (endpoint_id = $1, message_pk = ANY(...)) imply the
-- predicates, so they use them as before.
DROP INDEX webhook_deliveries_endpoint_idx;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status) WHERE endpoint_id IS NOT NULL;
DROP INDEX webhook_attempts_message_idx;
CREATE INDEX webhook_attempts_message_idx ON webhook_attempts (message_pk, id) WHERE message_pk IS NOT NULL;
DROP INDEX webhook_attempts_endpoint_idx;
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id) WHERE endpoint_id IS NOT NULL;
CREATE INDEX webhook_attempts_destination_idx ON webhook_attempts (destination_id, id) WHERE destination_id IS NOT NULL;

-- Issues: failures grouped by what they have in common (Hookdeck's aggregation keys). One row
-- per (type, target, kind): a source or destination, and the failure's kind (http_503,
-- timeout, signature_mismatch, payload_too_large, ...).
CREATE TABLE ingest_issues (
    id                  uuid PRIMARY KEY,
    workspace_id        uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type                text        NOT NULL CHECK (type IN ('delivery', 'verification', 'request', 'backpressure')),
    status              text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved', 'ignored')),
    source_id           uuid REFERENCES ingest_sources (id) ON DELETE CASCADE,
    destination_id      uuid REFERENCES ingest_destinations (id) ON DELETE CASCADE,
    kind                text        NOT NULL,
    -- The first failing event and attempt (not foreign keys: retention may delete them).
    ref_event_id        uuid,
    ref_attempt_id      uuid,
    occurrences         int         NOT NULL DEFAULT 1,
    first_seen_at       timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    opened_at           timestamptz NOT NULL,
    acknowledged_at     timestamptz,
    resolved_at         timestamptz,
    auto_resolved_at    timestamptz,
    ignored_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ingest_issues_group_key ON ingest_issues (type, coalesce(source_id, destination_id), kind);
CREATE INDEX ingest_issues_workspace_idx ON ingest_issues (workspace_id, id);
CREATE INDEX ingest_issues_destination_active_idx ON ingest_issues (destination_id) WHERE status IN ('open', 'acknowledged');
CREATE INDEX ingest_issues_source_active_idx ON ingest_issues (source_id) WHERE status IN ('open', 'acknowledged');

CREATE TABLE ingest_replays (
    id            uuid PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    filter        jsonb       NOT NULL,
    status        text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
    replayed      int         NOT NULL DEFAULT 0,
    -- The last event handled, so a restarted replay continues where it stopped.
    after_id      uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX ingest_replays_workspace_idx ON ingest_replays (workspace_id, id);
