-- Workspace users (issue 15): people who sign in with an email and a password, members of one or
-- more workspaces with a role in each; their sign-in sessions (refresh tokens); and the failed
-- sign-ins that throttle password guessing.

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text        NOT NULL,
    first_name     text        NOT NULL DEFAULT '',
    last_name      text        NOT NULL DEFAULT '',
    -- argon2id in the PHC string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash): the
    -- parameters travel with the hash, so they can be raised without invalidating old ones.
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
-- One account per address, whatever its case: sign-in matches it case-insensitively.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE workspace_members (
    workspace_id  uuid        NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text        NOT NULL CHECK (role IN ('SUPER_ADMIN', 'ADMIN', 'FDE', 'VIEWER')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_user_idx ON workspace_members (user_id);

-- A sign-in: the refresh token (only its SHA-256, rotated on every refresh) and the access
-- tokens issued from it, which name the session (sid) and die with it.
CREATE TABLE user_sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash  bytea       NOT NULL UNIQUE,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    refreshed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id);

-- Failed sign-ins, by what they are counted under ('account:<email>' and 'address:<ip>'),
-- kept for the throttling window only.
CREATE TABLE login_failures (
    subject  text        NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_subject_idx ON login_failures (subject, at);

-- API keys created by a signed-in user name that user (NULL: created by the operator).
ALTER TABLE api_keys ADD COLUMN created_by uuid REFERENCES users (id) ON DELETE SET NULL;
