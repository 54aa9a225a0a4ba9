-- Target and attribute resolution (seed 003): the attribute key catalog and a workspace's
-- attribute policies, its target resolution configs, and what an activity resolved.

-- Attribute keys: the built-in ones (workspace_id NULL, every workspace's, with the fixed ids
-- the spec documents) and each workspace's own. A key names one value an activity carries.
CREATE TABLE attribute_keys (
    id            uuid PRIMARY KEY,
    workspace_id  uuid        REFERENCES workspaces (id) ON DELETE CASCADE,
    key           text        NOT NULL CHECK (key ~ '^[a-z0-9]+(_[a-z0-9]+)*$' AND length(key) <= 100),
    label         text        NOT NULL,
    description   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- One key per name in a workspace, built-in ones included (the insert of a workspace key
-- checks the built-in names: NULLs are distinct here).
CREATE UNIQUE INDEX attribute_keys_workspace_key ON attribute_keys (workspace_id, key);
CREATE UNIQUE INDEX attribute_keys_builtin_key ON attribute_keys (key) WHERE workspace_id IS NULL;

INSERT INTO attribute_keys (id, workspace_id, key, label, description) VALUES
    ('a77e8400-e29b-41d4-a716-446655440001', NULL, 'commerce_info', 'Commerce information',
     'The commerce''s name, external id, tax id, metadata and primary address.'),
    ('a77e8400-e29b-41d4-a716-446655440002', NULL, 'promotions', 'Promotions',
     'The promotions of the commerce: the "promotions" entry of its metadata.')
ON CONFLICT DO NOTHING;

-- How a workspace resolves one attribute key: when (strategy) and by whom (resolver). A
-- CLIENT_HOOK policy calls hook_url, signed with hook_secret (sealed); a rotated-out secret
-- keeps signing until hook_previous_expires_at.
CREATE TABLE attribute_policies (
    id                        uuid PRIMARY KEY,
    workspace_id              uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    attribute_key_id          uuid        NOT NULL REFERENCES attribute_keys (id) ON DELETE CASCADE,
    strategy                  text        NOT NULL CHECK (strategy IN ('UPFRONT', 'ON_DISPATCH', 'CALLER_PROVIDED')),
    resolver_type             text        CHECK (resolver_type IN ('INTERNAL_SERVICE', 'CLIENT_HOOK')),
    hook_url                  text,
    hook_timeout_ms           integer     NOT NULL DEFAULT 5000 CHECK (hook_timeout_ms BETWEEN 100 AND 10000),
    hook_secret               bytea,
    hook_previous_secret      bytea,
    hook_previous_expires_at  timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, attribute_key_id),
    CHECK (resolver_type IS DISTINCT FROM 'CLIENT_HOOK' OR (hook_url IS NOT NULL AND hook_secret IS NOT NULL))
);

-- Who an activity is for: the configs are tried by priority (lower first), the first active one
-- whose channel and activity_type match (NULL matches any) applies. criteria is a JSON array of
-- {id, type, config, priority}.
CREATE TABLE target_resolution_configs (
    id                        uuid PRIMARY KEY,
    workspace_id              uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    resolution_strategy       text        NOT NULL CHECK (resolution_strategy IN ('ON_CREATION', 'ON_DISPATCH', 'MANUAL')),
    fallback_to_commerce_rep  boolean     NOT NULL DEFAULT true,
    fallback_to_owner         boolean     NOT NULL DEFAULT true,
    priority                  integer     NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 1000000),
    is_active                 boolean     NOT NULL DEFAULT true,
    channel                   text        CHECK (channel IN ('SALESMAN', 'CALLCENTER', 'WHATSAPP', 'EMAIL', 'SMS', 'PUSH')),
    activity_type             text        CHECK (activity_type IN ('TASK', 'MESSAGE')),
    criteria                  jsonb       NOT NULL DEFAULT '[]',
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
-- The documented 409: priorities are unique among a workspace's active configs.
CREATE UNIQUE INDEX target_resolution_configs_priority_key ON target_resolution_configs (workspace_id, priority) WHERE is_active;

-- What an activity resolved lives on its row, written by the statement that creates it (no
-- second insert per activity on the create path): target, its target user (NULL when nothing
-- resolves one), and resolved_attributes, one entry per attribute key. Both are json, not
-- jsonb: they are written and read whole (store/resolution.go), and json keeps the text as
-- given, smaller and cheaper to write than jsonb's form. dispatched_user_id and dispatched_at
-- are set when the provider accepts the activity; the LAST_CONTACTED criteria read them
-- through the two partial indexes, which an activity enters only then, so creating one does
-- not touch them.
ALTER TABLE activities
    ADD COLUMN target               json,
    ADD COLUMN resolved_attributes  json NOT NULL DEFAULT '[]',
    ADD COLUMN dispatched_user_id   uuid,
    ADD COLUMN dispatched_at        timestamptz;
CREATE INDEX activities_last_contacted_idx ON activities (commerce_id, dispatched_at DESC)
    INCLUDE (dispatched_user_id) WHERE dispatched_user_id IS NOT NULL;
CREATE INDEX activities_last_contacted_channel_idx ON activities (commerce_id, channel, dispatched_at DESC)
    INCLUDE (dispatched_user_id) WHERE dispatched_user_id IS NOT NULL;
