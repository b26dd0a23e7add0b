-- The whole data model of SPEC.md. Instants are unix seconds (BIGINT), ids are
-- TEXT UUIDs, hashes are lowercase hex SHA-256, flags are nullable instants.

CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    username           TEXT NOT NULL,
    email              TEXT NOT NULL,
    name               TEXT,
    password_hash      TEXT NOT NULL,
    email_verified_at  BIGINT,
    disabled_at        BIGINT,
    -- Access tokens issued before this instant are refused (belt and braces
    -- next to session revocation).
    tokens_valid_after BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_created_at_idx ON users (created_at, id);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_name_key ON roles (lower(name));

CREATE TABLE permissions (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX permissions_name_key ON permissions (lower(name));

CREATE TABLE role_permissions (
    role_id       TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);
CREATE INDEX role_permissions_permission_idx ON role_permissions (permission_id);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_idx ON user_roles (role_id);

-- Redirect URIs, grant types and scopes are read together with the client on
-- every request that names it, so they live in the row (JSON arrays), as in
-- Hydra, rather than in side tables that would cost a join per request.
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    client_type               TEXT NOT NULL CHECK (client_type IN ('public', 'confidential')),
    secret_hash               TEXT,
    redirect_uris             TEXT NOT NULL DEFAULT '[]',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    grant_types               TEXT NOT NULL DEFAULT '[]',
    scopes                    TEXT NOT NULL DEFAULT '[]',
    first_party               INTEGER NOT NULL DEFAULT 0 CHECK (first_party IN (0, 1)),
    access_token_ttl_secs     BIGINT,
    refresh_token_ttl_secs    BIGINT,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    CHECK ((client_type = 'confidential') = (secret_hash IS NOT NULL))
);

-- A browser's login at the authorization endpoint (the session cookie).
CREATE TABLE browser_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX browser_sessions_user_idx ON browser_sessions (user_id);

-- A login session = one refresh-token family = the `sid` claim. Client
-- credentials tokens have none.
CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id          TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    browser_session_id TEXT REFERENCES browser_sessions (id) ON DELETE SET NULL,
    scope              TEXT NOT NULL,
    -- The user's roles when the session began (JSON array). Any role change
    -- ends every session of the user, so this snapshot stays true for the
    -- session's whole life, and a refresh needs no join to put roles in the
    -- new access token.
    roles              TEXT NOT NULL DEFAULT '[]',
    auth_time          BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    last_used_at       BIGINT NOT NULL,
    -- The absolute cap: no refresh extends a session past it.
    expires_at         BIGINT NOT NULL,
    revoked_at         BIGINT,
    revoked_reason     TEXT,
    ip                 TEXT,
    user_agent         TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id, revoked_at);
CREATE INDEX sessions_browser_session_idx ON sessions (browser_session_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_id   TEXT,
    client_id   TEXT NOT NULL,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT,
    revoked_at  BIGINT
);
CREATE UNIQUE INDEX refresh_tokens_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_parent_idx ON refresh_tokens (parent_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- Access tokens revoked before their expiry (RFC 7009), by `jti`.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at_idx ON revoked_access_tokens (expires_at);

CREATE TABLE authorization_codes (
    id                    TEXT PRIMARY KEY,
    code_hash             TEXT NOT NULL,
    client_id             TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id               TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_session_id    TEXT REFERENCES browser_sessions (id) ON DELETE SET NULL,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    resource              TEXT,
    auth_time             BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    consumed_at           BIGINT,
    -- The session the first redemption created, revoked if the code is replayed.
    issued_session_id     TEXT
);
CREATE UNIQUE INDEX authorization_codes_hash_key ON authorization_codes (code_hash);
CREATE INDEX authorization_codes_expires_at_idx ON authorization_codes (expires_at);

-- A user's consent to a non-first-party client, per scope set.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE signing_keys (
    kid                TEXT PRIMARY KEY,
    alg                TEXT NOT NULL,
    -- PKCS#8 DER sealed with AES-256-GCM under a key derived from SECRET_KEY
    -- (nonce || ciphertext, base64url).
    -- Empty for a key that comes from PRIVATE_KEY_PATH (kept only so that
    -- its public half stays published after the file is replaced).
    private_key_sealed TEXT NOT NULL,
    public_jwk         TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('active', 'retired')),
    created_at         BIGINT NOT NULL,
    -- A new key is published in the JWKS before it signs, so that verifiers
    -- holding a cached JWKS know it by the time they see it.
    signs_from         BIGINT NOT NULL,
    retired_at         BIGINT,
    -- Once past this instant no token it signed can still be valid; the key
    -- leaves the JWKS.
    expires_at         BIGINT
);
CREATE INDEX signing_keys_state_idx ON signing_keys (state, created_at);

-- Brute-force protection, keyed by the submitted username (lower-cased),
-- whether or not such a user exists.
CREATE TABLE login_failures (
    username     TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    lockouts     BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX login_failures_updated_at_idx ON login_failures (updated_at);

-- Fixed-window request counters per (scope, client IP, window start).
CREATE TABLE rate_limit_buckets (
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_buckets_window_idx ON rate_limit_buckets (window_start);

-- Versioned, append-only audit trail. `details` is a JSON object that never
-- contains a token, secret or password.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    occurred_at BIGINT NOT NULL,
    event       TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    actor_id    TEXT,
    subject_id  TEXT,
    client_id   TEXT,
    ip          TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at, id);
CREATE INDEX audit_events_subject_idx ON audit_events (subject_id, occurred_at);
CREATE INDEX audit_events_event_idx ON audit_events (event, occurred_at);
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, occurred_at);

-- The built-in first-party client: the password grant and refresh of clients
-- written for the original service, which send no client_id, are attributed
-- to it (SPEC.md "Clients"). ALLOW_PASSWORD_GRANT_WITHOUT_CLIENT turns that off.
INSERT INTO oauth_clients (id, name, client_type, secret_hash, redirect_uris,
                           post_logout_redirect_uris, grant_types, scopes, first_party,
                           created_at, updated_at)
VALUES ('idp-first-party', 'Built-in first-party client', 'public', NULL, '[]', '[]',
        '["password","refresh_token"]', '["openid","profile","email","roles","offline_access"]',
        1, 0, 0);

-- The two roles every installation has (SPEC.md §3); `idp seed` adds their
-- permissions and the admin user. New users get `User`.
INSERT INTO roles (id, name, description, created_at)
VALUES ('00000000-0000-7000-8000-000000000001', 'Admin', 'Full administrative access', 0),
       ('00000000-0000-7000-8000-000000000002', 'User', 'A registered user', 0);
