-- The outbox: work that must happen after a request has answered and must
-- not be lost (a mail today; back-channel logout calls later). A request
-- writes its job in the transaction of the change that causes it; a sender
-- task on every node claims due jobs, runs them, and records the outcome.
--
-- `kind` names the handler; the table knows nothing of mail. `payload` is
-- sealed under SECRET_KEY (it can hold a link with a one-time token) and is
-- emptied once the job has finished. A claim is a lease: `claimed_until`
-- lets another node take the job over when its sender died mid-way.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_created_idx ON outbox (created_at);

-- One-time tokens sent by mail: password reset, email verification, email
-- change. Only the SHA-256 of the token is kept. `email` is the address the
-- link went to (for a change, the new address). A reset token counts only
-- while the user's security stamp is the one it was issued under, so a
-- password change in between kills it.
CREATE TABLE email_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    purpose     TEXT NOT NULL CHECK (purpose IN ('password_reset', 'email_verification', 'email_change')),
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    user_stamp  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE UNIQUE INDEX email_tokens_hash_key ON email_tokens (token_hash);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_email_idx ON email_tokens (lower(email), created_at);
CREATE INDEX email_tokens_expires_idx ON email_tokens (expires_at);
