-- Webhooks API (Dispatch side): apps, event types, recipients, endpoints, messages, their
-- per-endpoint deliveries and every attempt, portal sessions, bulk replays, and per-workspace
-- plan limits.

CREATE TABLE webhook_apps (
    id                     uuid PRIMARY KEY,
    workspace_id           uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                   text        NOT NULL,
    routing_key_body_path  text,
    routing_key_header     text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_apps_workspace_idx ON webhook_apps (workspace_id, id);

CREATE TABLE webhook_event_types (
    app_id           uuid        NOT NULL REFERENCES webhook_apps (id) ON DELETE CASCADE,
    name             text        NOT NULL,
    description      text        NOT NULL DEFAULT '',
    example_payload  jsonb,
    schema           jsonb,
    archived_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, name)
);

CREATE TABLE webhook_recipients (
    id            uuid PRIMARY KEY,
    app_id        uuid        NOT NULL REFERENCES webhook_apps (id) ON DELETE CASCADE,
    recipient_id  text        NOT NULL,
    name          text,
    metadata      jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_recipients_app_recipient_key UNIQUE (app_id, recipient_id)
);

CREATE TABLE webhook_endpoints (
    id                     uuid PRIMARY KEY,
    -- The app's workspace, copied here so the maxEndpoints limit is one indexed count.
    workspace_id           uuid        NOT NULL,
    app_id                 uuid        NOT NULL REFERENCES webhook_apps (id) ON DELETE CASCADE,
    recipient_pk           uuid        NOT NULL REFERENCES webhook_recipients (id) ON DELETE CASCADE,
    url                    text        NOT NULL,
    description            text        NOT NULL DEFAULT '',
    event_types            text[]      NOT NULL DEFAULT '{}',
    status                 text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused', 'disabled')),
    disabled_reason        text,
    headers                jsonb       NOT NULL DEFAULT '{}',
    max_attempts           int         NOT NULL DEFAULT 8,
    rate_limit_per_minute  int,
    -- AES-256-GCM sealed (bound to the endpoint id): the current whsec_ secret, and a JSON list
    -- of previous ones with their expiry. Never stored in plaintext.
    secret                 bytea       NOT NULL,
    old_secrets            bytea,
    -- The first failure since the last success; an endpoint failing for long is disabled.
    failing_since          timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_recipient_idx ON webhook_endpoints (recipient_pk, id);
CREATE INDEX webhook_endpoints_workspace_idx ON webhook_endpoints (workspace_id);

CREATE TABLE webhook_messages (
    id               uuid PRIMARY KEY,
    app_id           uuid        NOT NULL REFERENCES webhook_apps (id) ON DELETE CASCADE,
    message_id       text        NOT NULL,
    idempotency_key  text,
    recipient_pk     uuid        NOT NULL REFERENCES webhook_recipients (id) ON DELETE CASCADE,
    recipient_id     text        NOT NULL,
    event_type       text        NOT NULL,
    -- The exact bytes every attempt sends and signs.
    body             text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_messages_app_message_key UNIQUE (app_id, message_id)
);
CREATE UNIQUE INDEX webhook_messages_idempotency_key ON webhook_messages (app_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX webhook_messages_app_idx ON webhook_messages (app_id, id);
CREATE INDEX webhook_messages_recipient_idx ON webhook_messages (recipient_pk, id);

-- One row per (message, endpoint): where that delivery stands.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    message_pk       uuid        NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    endpoint_id      uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           text        NOT NULL CHECK (status IN ('pending', 'held', 'delivered', 'failed')),
    attempts         int         NOT NULL DEFAULT 0,
    last_status_code int,
    last_error       text,
    next_attempt_at  timestamptz,
    delivered_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_message_endpoint_key UNIQUE (message_pk, endpoint_id)
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status);

CREATE TABLE webhook_attempts (
    id                    uuid PRIMARY KEY,
    delivery_id           uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    message_pk            uuid        NOT NULL,
    endpoint_id           uuid        NOT NULL,
    attempt_number        int         NOT NULL,
    trigger               text        NOT NULL CHECK (trigger IN ('scheduled', 'replay')),
    status                text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
    response_status_code  int,
    response_body         text,
    duration_ms           int         NOT NULL,
    error                 text,
    next_attempt_at       timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_message_idx ON webhook_attempts (message_pk, id);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (endpoint_id, id);

CREATE TABLE webhook_portal_sessions (
    id            uuid PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_id        uuid        NOT NULL REFERENCES webhook_apps (id) ON DELETE CASCADE,
    recipient_pk  uuid        NOT NULL REFERENCES webhook_recipients (id) ON DELETE CASCADE,
    -- SHA-256 of the token, as for API keys.
    token_hash    bytea       NOT NULL UNIQUE,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_replays (
    id            uuid PRIMARY KEY,
    app_id        uuid        NOT NULL REFERENCES webhook_apps (id) ON DELETE CASCADE,
    filter        jsonb       NOT NULL,
    status        text        NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
    replayed      int         NOT NULL DEFAULT 0,
    -- The last delivery handled, so a restarted replay continues where it stopped.
    after_id      uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);

-- Plan limits set by the operator; NULL = unlimited.
CREATE TABLE workspace_limits (
    workspace_id         uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    max_apps             int,
    max_endpoints        int,
    messages_per_minute  int,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Messages accepted per workspace and minute, kept only for workspaces with a per-minute limit.
CREATE TABLE workspace_message_counts (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    minute        timestamptz NOT NULL,
    n             int         NOT NULL,
    PRIMARY KEY (workspace_id, minute)
);
