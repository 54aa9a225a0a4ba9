-- Commerce users with their roles and contacts; the task result types and the results field
-- systems submit for task activities.

CREATE TABLE commerce_users (
    id           uuid PRIMARY KEY,
    commerce_id  uuid        NOT NULL REFERENCES commerces (id) ON DELETE CASCADE,
    first_name   text,
    last_name    text,
    external_id  text,
    source       text        NOT NULL DEFAULT 'RETEN' CHECK (source IN ('RETEN', 'INTEGRATION')),
    is_active    boolean     NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (commerce_id, external_id)
);
CREATE INDEX commerce_users_commerce_idx ON commerce_users (commerce_id, id);

CREATE TABLE commerce_user_roles (
    user_id     uuid        NOT NULL REFERENCES commerce_users (id) ON DELETE CASCADE,
    role        text        NOT NULL CHECK (role IN ('OWNER', 'ORDERS', 'FINANCE', 'ATTENTION', 'ADMIN', 'COMMERCE_REP', 'OTHER')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE commerce_user_contacts (
    id          uuid PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES commerce_users (id) ON DELETE CASCADE,
    type        text        NOT NULL CHECK (type IN ('EMAIL', 'PHONE', 'WHATSAPP', 'OTHER')),
    value       text        NOT NULL,
    source      text        NOT NULL CHECK (source IN ('RETEN', 'INTEGRATION')),
    is_primary  boolean     NOT NULL DEFAULT false,
    is_active   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
-- One contact per user, type and value; emails compare case-insensitively.
CREATE UNIQUE INDEX commerce_user_contacts_value_key ON commerce_user_contacts
    (user_id, type, (CASE WHEN type = 'EMAIL' THEN lower(value) ELSE value END));
-- At most one primary contact per user and type.
CREATE UNIQUE INDEX commerce_user_contacts_primary_key ON commerce_user_contacts (user_id, type) WHERE is_primary;

CREATE TABLE task_result_type_configs (
    id                            uuid PRIMARY KEY,
    workspace_id                  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    code                          text        NOT NULL,
    label                         text        NOT NULL,
    requires_future_scheduled_at  boolean     NOT NULL DEFAULT false,
    is_active                     boolean     NOT NULL DEFAULT true,
    created_at                    timestamptz NOT NULL DEFAULT now(),
    updated_at                    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, code)
);

-- One result per activity: a later submission replaces it (a PENDING one, or any with
-- hard_override).
CREATE TABLE activity_task_results (
    id                    uuid PRIMARY KEY,
    activity_id           uuid        NOT NULL UNIQUE REFERENCES activities (id) ON DELETE CASCADE,
    status                text        NOT NULL CHECK (status IN ('EFFECTIVE', 'NOT_EFFECTIVE', 'PENDING')),
    external_status       text,
    occurred_at           timestamptz NOT NULL,
    result_code           text        NOT NULL,
    result_label          text        NOT NULL,
    comment               text,
    contact_type          text        CHECK (contact_type IN ('INBOUND', 'OUTBOUND')),
    operator_external_id  text,
    future_scheduled_at   timestamptz,
    payload               jsonb       NOT NULL DEFAULT '{}',
    raw_payload           jsonb       NOT NULL DEFAULT '{}',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Results name their activity by the provider's id too. Partial: activities are inserted
-- without one, so creating an activity does not touch this index.
CREATE INDEX activities_workspace_external_id_idx ON activities (workspace_id, external_id) WHERE external_id IS NOT NULL;
