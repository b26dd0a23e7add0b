-- Security stamps. A user's stamp changes with every change that must end
-- the user's sessions (password, roles, disabling). Every session, browser
-- sign-in and authorization code records the stamp it was created under,
-- and counts only while the user still has that stamp: an exact comparison,
-- where `tokens_valid_after` has whole seconds.
--
-- A session is written only while the user's row is locked and still has the
-- stamp its password check read (`users::lock_unchanged`), so a login that
-- checked the old password cannot create a session after the change.
--
-- Existing rows start at 0 on both sides: everything live stays live.
ALTER TABLE users ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN user_stamp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE browser_sessions ADD COLUMN user_stamp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE authorization_codes ADD COLUMN user_stamp BIGINT NOT NULL DEFAULT 0;
