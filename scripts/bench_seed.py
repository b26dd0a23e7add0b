#!/usr/bin/env python3
"""Fills an idp database with many users, sessions and refresh tokens, to
show that latency and start-up do not depend on table sizes.

    scripts/bench_seed.py DATABASE_URL [USERS] [REFRESH_TOKENS]

Defaults: 1,000,000 users and 10,000,000 refresh tokens. The schema must
exist (start `idp serve` on the database once, or run `idp migrate`), and at
least one user must be registered: every seeded user gets that user's
password hash (one Argon2 hash, not a million), one live session, and the
refresh tokens are spread over the sessions: one live token per session, the
rest consumed, as rotation leaves them. Rows are generated inside the
database (generate_series / a recursive CTE) in chunks of a million, so
seeding takes minutes, not hours. Seeded ids are UUIDs starting with
`00000001-` (users), `00000002-` (sessions) or `00000003-` (tokens).
"""

import sqlite3
import subprocess
import sys
import time
import urllib.parse

CHUNK = 1_000_000
DAY = 86_400


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    url = sys.argv[1]
    users = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    tokens = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000_000
    if tokens < users:
        sys.exit("REFRESH_TOKENS must be at least USERS (one live token per session)")
    db = Postgres(url) if url.startswith(("postgres://", "postgresql://")) else Sqlite(url)
    password_hash = db.scalar("SELECT password_hash FROM users ORDER BY created_at LIMIT 1")
    client_id = db.scalar("SELECT id FROM oauth_clients ORDER BY created_at LIMIT 1")
    if not password_hash or not client_id:
        sys.exit("register one user first (and let idp create its default client)")
    now = int(time.time())
    expires = now + 30 * DAY
    started = time.monotonic()

    def chunks(total):
        for first in range(1, total + 1, CHUNK):
            yield first, min(first + CHUNK - 1, total)

    for first, last in chunks(users):
        db.run(
            db.series(first, last)
            + "INSERT INTO users (id, username, email, password_hash, created_at, updated_at) "
            f"SELECT {db.uuid(1, 'i')}, 'seed_user_' || i, 'seed_user_' || i || '@example.com', "
            f"{quote(password_hash)}, {now}, {now} FROM s"
        )
        db.run(
            db.series(first, last)
            + "INSERT INTO sessions (id, user_id, client_id, scope, roles, auth_time, created_at, "
            "last_used_at, expires_at) "
            f"SELECT {db.uuid(2, 'i')}, {db.uuid(1, 'i')}, {quote(client_id)}, 'openid profile', "
            f"'[\"User\"]', {now}, {now}, {now}, {expires} FROM s"
        )
        progress(f"users and sessions: {last:,}", started)
    for first, last in chunks(tokens):
        db.run(
            db.series(first, last)
            + "INSERT INTO refresh_tokens (id, token_hash, session_id, client_id, issued_at, "
            "expires_at, consumed_at) "
            f"SELECT {db.uuid(3, 'i')}, {db.unique_hash('i')}, {db.uuid(2, f'(1 + i % {users})')}, "
            f"{quote(client_id)}, {now}, {expires}, CASE WHEN i > {users} THEN {now} END FROM s"
        )
        progress(f"refresh tokens: {last:,}", started)
    db.run("ANALYZE")
    progress("done (ANALYZE run)", started)


def progress(what: str, started: float) -> None:
    print(f"{time.monotonic() - started:7.1f} s  {what}", file=sys.stderr, flush=True)


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class Postgres:
    def __init__(self, url: str):
        self.url = url

    def series(self, first: int, last: int) -> str:
        return f"WITH s(i) AS (SELECT generate_series({first}, {last})) "

    def uuid(self, table: int, column: str) -> str:
        return f"'0000000{table}-0000-7000-8000-' || lpad(to_hex({column}), 12, '0')"

    def unique_hash(self, column: str) -> str:
        return f"encode(sha256(('seed' || {column})::bytea), 'base64')"

    def run(self, sql: str) -> None:
        subprocess.run(["psql", self.url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)

    def scalar(self, sql: str) -> str:
        out = subprocess.run(["psql", self.url, "-qAt", "-c", sql], check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()


class Sqlite:
    def __init__(self, url: str):
        path = urllib.parse.urlparse(url)
        self.path = (path.netloc + path.path) if path.scheme == "sqlite" else url
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.conn.execute("PRAGMA journal_mode = WAL")

    def series(self, first: int, last: int) -> str:
        return (f"WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s "
                f"WHERE i < {last}) ")

    def uuid(self, table: int, column: str) -> str:
        return f"printf('0000000{table}-0000-7000-8000-%012x', {column})"

    def unique_hash(self, column: str) -> str:
        # Unique and as long as a real token hash (43 characters).
        return f"printf('seed%039d', {column})"

    def run(self, sql: str) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(sql)
        self.conn.execute("COMMIT")

    def scalar(self, sql: str) -> str:
        row = self.conn.execute(sql).fetchone()
        return row[0] if row else ""


if __name__ == "__main__":
    main()
