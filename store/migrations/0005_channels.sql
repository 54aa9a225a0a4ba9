-- The Channels API: a workspace's channels, its contacts with their identifiers, and the
-- inbound messages that open a contact's service window on a channel.

CREATE TABLE channels (
    id                                     uuid PRIMARY KEY,
    workspace_id                           uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    platform_id                            text        NOT NULL,
    name                                   text        NOT NULL,
    connector_id                           uuid        NOT NULL,
    identifier                             text,
    status                                 text        NOT NULL CHECK (status IN
        ('active', 'pending', 'setting-up', 'failed', 'inactive', 'deleted', 'warning')),
    contact_identifier_key_override        text,
    contact_identifier_format_override     jsonb,
    platform_service_url_override          text,
    platform_service_version_override      text,
    platform_service_protocol_override     text,
    platform_message_json_schema_override  jsonb,
    platform_template_engine_override      text,
    capabilities                           jsonb,
    -- Items as returned, except that the value of an item that is not public is left out:
    -- those values live sealed in secrets, as {"settings": {key: value}, "connectionParams": {...}}.
    settings                               jsonb       NOT NULL DEFAULT '[]',
    connection_params                      jsonb       NOT NULL DEFAULT '[]',
    secrets                                bytea,
    preferences                            jsonb,
    use_case_id                            text,
    use_case_type                          text,
    channel_message_type                   text,
    suites                                 text[]      NOT NULL DEFAULT '{}',
    created_at                             timestamptz NOT NULL DEFAULT now(),
    updated_at                             timestamptz NOT NULL DEFAULT now()
);
-- Keyset pagination walks (workspace_id, id); ids are time-ordered.
CREATE INDEX channels_workspace_idx ON channels (workspace_id, id);
-- A connector installs one live channel.
CREATE UNIQUE INDEX channels_connector_key ON channels (workspace_id, connector_id) WHERE status <> 'deleted';

CREATE TABLE contacts (
    id            uuid PRIMARY KEY,
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    display_name  text,
    attributes    jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_workspace_idx ON contacts (workspace_id, id);

CREATE TABLE contact_identifiers (
    contact_id    uuid    NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    workspace_id  uuid    NOT NULL,
    position      integer NOT NULL,
    key           text    NOT NULL,
    value         text    NOT NULL,
    PRIMARY KEY (contact_id, position),
    -- An identifier names one contact of a workspace.
    CONSTRAINT contact_identifiers_value_key UNIQUE (workspace_id, key, value)
);
CREATE INDEX contact_identifiers_value_idx ON contact_identifiers (workspace_id, value);

CREATE TABLE channel_inbound_messages (
    id                uuid PRIMARY KEY,
    workspace_id      uuid        NOT NULL,
    channel_id        uuid        NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    contact_id        uuid        NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    identifier_value  text,
    text              text,
    received_at       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- The service window is the latest received_at of a (channel, contact).
CREATE INDEX channel_inbound_messages_window_idx ON channel_inbound_messages (channel_id, contact_id, received_at DESC);
