-- Calling API: call execution configurations, the workspace blacklist of numbers, and the
-- fixed-window rate-limit counters every server process shares.

CREATE TABLE calling_configs (
    id                         text PRIMARY KEY,
    workspace_id               uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    reseller_id                text        NOT NULL,
    template                   text        NOT NULL,
    merchant_id                text,
    initial_offset             integer     NOT NULL CHECK (initial_offset >= 0),
    retry_offset               integer     NOT NULL CHECK (retry_offset >= 0),
    call_start_time            text        NOT NULL,
    call_end_time              text        NOT NULL,
    call_timezone              text        NOT NULL DEFAULT 'Asia/Kolkata',
    max_retry                  integer     NOT NULL CHECK (max_retry >= 0),
    calling_provider           text        NOT NULL CHECK (calling_provider IN ('TWILIO', 'EXOTEL', 'PLIVO')),
    enable_calling             boolean     NOT NULL DEFAULT true,
    enable_international_call  boolean     NOT NULL DEFAULT true,
    domestic_country_code      text        NOT NULL DEFAULT '91',
    enable_inbound             boolean     NOT NULL DEFAULT true,
    inbound_call_start_time    text,
    inbound_call_end_time      text,
    inbound_call_timezone      varchar(50) NOT NULL DEFAULT 'Asia/Kolkata',
    inbound_block_action       text        NOT NULL DEFAULT 'REJECT' CHECK (inbound_block_action IN ('REJECT', 'REDIRECT')),
    inbound_redirect_number    varchar(20),
    inbound_block_message      text,
    enforce_blacklist          boolean     NOT NULL DEFAULT true,
    rate_limit_enabled         boolean     NOT NULL DEFAULT false,
    rate_limit_max_calls       integer     CHECK (rate_limit_max_calls > 0),
    rate_limit_window_seconds  integer     NOT NULL DEFAULT 1800 CHECK (rate_limit_window_seconds > 0),
    rate_limit_whitelist       text[]      NOT NULL DEFAULT '{}',
    pre_checks                 jsonb       NOT NULL DEFAULT '[]',
    telephony_config           jsonb,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    -- The documented rules, kept by the database too.
    CHECK ((inbound_call_start_time IS NULL) = (inbound_call_end_time IS NULL)),
    CHECK (inbound_block_action <> 'REDIRECT' OR inbound_redirect_number IS NOT NULL),
    CHECK (NOT rate_limit_enabled OR rate_limit_max_calls IS NOT NULL)
);
-- One configuration per reseller + template + merchant (no merchant counts as one value), so
-- two concurrent creates of the same one cannot both succeed.
CREATE UNIQUE INDEX calling_configs_identity_key
    ON calling_configs (workspace_id, reseller_id, template, merchant_id) NULLS NOT DISTINCT;

CREATE TABLE calling_blacklist (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    number        text        NOT NULL,
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, number)
);

-- One row per configuration and fixed window: calls counted in it.
CREATE TABLE calling_rate_windows (
    config_id     text        NOT NULL REFERENCES calling_configs (id) ON DELETE CASCADE,
    window_start  timestamptz NOT NULL,
    calls         integer     NOT NULL,
    PRIMARY KEY (config_id, window_start)
);
