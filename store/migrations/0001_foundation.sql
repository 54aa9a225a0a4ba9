-- Workspaces (tenants), their API keys, the global dispatch provider catalog and the
-- per-workspace dispatch configs of the Activities API.

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    prefix        text        NOT NULL,
    -- SHA-256 of the secret: keys are high-entropy random strings, so a fast hash is enough
    -- and lets authentication be one indexed lookup.
    key_hash      bytea       NOT NULL UNIQUE,
    permissions   text[]      NOT NULL,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, id);

CREATE TABLE dispatch_providers (
    id             uuid PRIMARY KEY,
    code           text        NOT NULL UNIQUE,
    name           text        NOT NULL,
    protocol_type  text        NOT NULL CHECK (protocol_type IN ('REST', 'MOCK')),
    is_active      boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE channel_definitions (
    id                    uuid PRIMARY KEY,
    dispatch_provider_id  uuid        NOT NULL REFERENCES dispatch_providers (id) ON DELETE CASCADE,
    channel               text        NOT NULL,
    credential_schema     jsonb       NOT NULL DEFAULT '[]',
    settings_schema       jsonb       NOT NULL DEFAULT '[]',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (dispatch_provider_id, channel)
);

CREATE TABLE dispatch_configs (
    id                    uuid PRIMARY KEY,
    workspace_id          uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    dispatch_provider_id  uuid        NOT NULL REFERENCES dispatch_providers (id),
    channel               text        NOT NULL,
    base_url              text,
    -- AES-256-GCM sealed JSON object, bound to the row id; never stored in plaintext.
    credentials           bytea,
    settings              jsonb       NOT NULL DEFAULT '{}',
    is_active             boolean     NOT NULL DEFAULT true,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dispatch_configs_workspace_idx ON dispatch_configs (workspace_id, id);
-- One active config per provider and channel in a workspace (the API's 409).
CREATE UNIQUE INDEX dispatch_configs_active_key
    ON dispatch_configs (workspace_id, dispatch_provider_id, channel) WHERE is_active;

-- The documented providers. YOM's id is the one Reten's documentation uses in its examples,
-- so the documented requests work verbatim.
INSERT INTO dispatch_providers (id, code, name, protocol_type) VALUES
    ('660e8400-e29b-41d4-a716-446655440000', 'YOM', 'YOM Provider', 'REST'),
    ('770e8400-e29b-41d4-a716-446655440000', 'MOCK', 'Mock Provider', 'MOCK');

INSERT INTO channel_definitions (id, dispatch_provider_id, channel, credential_schema, settings_schema)
SELECT gen_random_uuid(), '660e8400-e29b-41d4-a716-446655440000', ch,
       '[{"key":"apiKey","label":"API Key","type":"password","required":true}]', '[]'
FROM unnest(ARRAY['SALESMAN', 'WHATSAPP', 'PUSH']) AS ch;

INSERT INTO channel_definitions (id, dispatch_provider_id, channel, credential_schema, settings_schema)
SELECT gen_random_uuid(), '770e8400-e29b-41d4-a716-446655440000', ch, '[]', '[]'
FROM unnest(ARRAY['SALESMAN', 'CALLCENTER', 'WHATSAPP', 'EMAIL', 'SMS', 'PUSH']) AS ch;
