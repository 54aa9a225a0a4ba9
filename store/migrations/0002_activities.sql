-- Commerces, the activity catalogs, activities with their audit trail and dispatch attempts.

CREATE TABLE commerces (
    id              uuid PRIMARY KEY,
    workspace_id    uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name            text        NOT NULL,
    external_id     text,
    tax_id          text,
    is_active       boolean     NOT NULL DEFAULT true,
    is_placeholder  boolean     NOT NULL DEFAULT false,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, external_id)
);
CREATE INDEX commerces_workspace_name_idx ON commerces (workspace_id, name, id);

CREATE TABLE commerce_addresses (
    id           uuid PRIMARY KEY,
    commerce_id  uuid    NOT NULL REFERENCES commerces (id) ON DELETE CASCADE,
    street       text    NOT NULL,
    city         text,
    latitude     double precision,
    longitude    double precision,
    is_primary   boolean NOT NULL DEFAULT false,
    is_active    boolean NOT NULL DEFAULT true
);
CREATE INDEX commerce_addresses_commerce_idx ON commerce_addresses (commerce_id);

CREATE TABLE user_retention_statuses (
    id            uuid PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code          text        NOT NULL,
    label         text        NOT NULL,
    description   text,
    is_active     boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, code)
);

CREATE TABLE activity_reasons (
    id            uuid PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code          text        NOT NULL,
    label         text        NOT NULL,
    is_active     boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, code)
);

CREATE TABLE activities (
    id                        uuid PRIMARY KEY,
    workspace_id              uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    commerce_id               uuid        NOT NULL REFERENCES commerces (id),
    type                      text        NOT NULL CHECK (type IN ('TASK', 'MESSAGE')),
    channel                   text        NOT NULL,
    status                    text        NOT NULL CHECK (status IN ('READY', 'UNRESOLVED', 'DISPATCHED', 'COMPLETED', 'CANCELED', 'FAILED')),
    reason_code               text        NOT NULL,
    reason_label              text        NOT NULL,
    user_status_code          text,
    user_status_label         text,
    idempotency_key           text        NOT NULL,
    scheduled_at              timestamptz NOT NULL,
    suggested_execution_time  timestamptz,
    score                     integer,
    assignment_reason         text,
    target_criteria           jsonb       NOT NULL DEFAULT '[]',
    attribute_keys            text[]      NOT NULL DEFAULT '{}',
    attributes                jsonb       NOT NULL DEFAULT '[]',
    dispatch_attempt_count    integer     NOT NULL DEFAULT 0,
    external_id               text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    -- The documented 409: one activity per idempotency key and workspace, also under races.
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX activities_workspace_idx ON activities (workspace_id, id DESC);
CREATE INDEX activities_workspace_status_idx ON activities (workspace_id, status, scheduled_at);

CREATE TABLE activity_status_events (
    id             uuid PRIMARY KEY,
    activity_id    uuid        NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    event_type     text        NOT NULL,
    from_status    text,
    to_status      text        NOT NULL,
    error_code     text,
    error_message  text,
    occurred_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_status_events_activity_idx ON activity_status_events (activity_id, id);

CREATE TABLE activity_dispatch_attempts (
    id                  uuid PRIMARY KEY,
    activity_id         uuid        NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    attempt             integer     NOT NULL,
    dispatch_config_id  uuid,
    provider_code       text,
    status_code         integer,
    duration_ms         integer     NOT NULL,
    error               text,
    external_id         text,
    started_at          timestamptz NOT NULL
);
CREATE INDEX activity_dispatch_attempts_activity_idx ON activity_dispatch_attempts (activity_id, id);

-- The status machine, enforced where every writer passes: an update along an edge the
-- documented lifecycle does not have fails, whoever makes it.
CREATE FUNCTION activities_check_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'READY'      AND NEW.status IN ('UNRESOLVED', 'DISPATCHED', 'CANCELED', 'FAILED'))
        OR (OLD.status = 'UNRESOLVED' AND NEW.status IN ('READY', 'CANCELED'))
        OR (OLD.status = 'DISPATCHED' AND NEW.status IN ('COMPLETED', 'FAILED'))) THEN
        RAISE EXCEPTION 'activity % cannot move from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'activity_status_transition';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER activities_status_transition BEFORE UPDATE OF status ON activities
    FOR EACH ROW EXECUTE FUNCTION activities_check_transition();
