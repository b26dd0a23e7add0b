#!/usr/bin/env bash
# Checks the OpenAPI document against the server it describes: starts idp on
# a fresh, seeded SQLite database, gets an admin token with the password
# grant, and runs schemathesis (property-based tests generated from
# /openapi.json) against it. Fails on any server error, any status, content
# type, header or body the document does not list, and any schema-invalid
# request the server accepts.
#
#   scripts/schemathesis.sh                       # builds target/debug/idp if needed
#   IDP_BIN=target/debug/idp scripts/schemathesis.sh
#
# Environment: IDP_BIN (an idp binary; default target/debug/idp, built if
# missing), EXAMPLES (test cases per operation and phase, default 100), SEED
# (default 16), SCHEMATHESIS_VENV (default target/schemathesis-venv).
#
# Destructive operations must not pull the admin's token from under the
# rest of the run. Schemathesis learns ids from responses, the admin's user
# and session ids among them, so:
#  - deleting, patching (disabling) or re-roling a user, and ending one of
#    its sessions, always act on a "victim" user made for that; ending one
#    of the caller's own sessions acts on a second admin session; patching,
#    deleting a client or resetting its secret act on a victim client, so
#    the backend client the run authenticates with stays as it is;
#  - pass 1 runs every operation stateless (schema examples, boundary and
#    invalid values, then random data); pass 2 chains calls through the
#    links schemathesis infers (POST /admin/roles -> GET/DELETE
#    /admin/roles/{id} ...) and leaves those operations out, since links
#    hand them real ids past the overrides;
#  - key rotation needs nothing: retired keys stay published, so the token
#    keeps verifying; changing the password cannot succeed without it;
#  - at the end the token must still work, and the server log must hold no
#    ERROR line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES="${EXAMPLES:-100}"
SEED="${SEED:-16}"
venv="${SCHEMATHESIS_VENV:-$root/target/schemathesis-venv}"

if [ -n "${IDP_BIN:-}" ]; then
    idp="$(cd "$(dirname "$IDP_BIN")" && pwd)/$(basename "$IDP_BIN")"
else
    idp="$root/target/debug/idp"
    [ -x "$idp" ] || cargo build --locked -p idp >&2
fi
[ -x "$idp" ] || { echo "no idp binary at $idp" >&2; exit 2; }

if [ "$("$venv/bin/st" --version 2>/dev/null)" != "st, version $SCHEMATHESIS_VERSION" ]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

work="$(mktemp -d)"
server_pid=""
smtp_pid=""
cleanup() {
    for pid in "$server_pid" "$smtp_pid"; do
        if [ -n "$pid" ]; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
# Mail on, so that the mail endpoints answer as in production rather than
# 503: a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd) that accepts
# and discards every message.
smtp_port="$(free_port)"
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Sink >"$work/smtp.log" 2>&1 &
smtp_pid=$!
base="http://127.0.0.1:$port"
admin_password="Schemathesis-admin-$RANDOM$RANDOM"
export DATABASE_URL="sqlite://$work/idp.db" ISSUER="$base" BIND="127.0.0.1:$port" \
    SECRET_KEY="schemathesis-only-secret-key-0123456789abcdef" RUST_LOG=warn \
    RATE_LIMIT_PER_MINUTE=0 ARGON2_MEMORY_KIB=1024 ARGON2_ITERATIONS=1 \
    ACCESS_TOKEN_EXPIRE_MINUTES=120 ADMIN_USERNAME=admin SMTP_URL="smtp://127.0.0.1:$smtp_port"
ADMIN_PASSWORD="$admin_password" "$idp" seed >/dev/null
"$idp" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fs "$base/readyz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
done
curl -fs "$base/readyz" >/dev/null

api() { # method path [json body] -> response body; fails on an error status
    curl -fsS -X "$1" -H "Authorization: Bearer $token" ${3:+-H 'content-type: application/json' -d "$3"} "$base$2"
}
json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
login() { # username password -> access token (a new session)
    curl -fsS --data-urlencode grant_type=password --data-urlencode "username=$1" \
        --data-urlencode "password=$2" "$base/auth/token" | json "['access_token']"
}

token="$(login admin "$admin_password")"
# What the destructive operations act on instead of the admin and its
# session: a second admin session, and a user with a session of its own.
login admin "$admin_password" >/dev/null
spare_session="$(api GET /auth/sessions |
    python3 -c 'import json, sys; print([s["id"] for s in json.load(sys.stdin) if not s["current"]][0])')"
victim_password="Victim-pass-$RANDOM$RANDOM"
victim="$(api POST /admin/users "{\"username\":\"victim\",\"email\":\"victim@example.com\",\"password\":\"$victim_password\"}" | json "['id']")"
login victim "$victim_password" >/dev/null
victim_session="$(api GET "/admin/users/$victim/sessions" | json "[0]['id']")"
# A backend client, for the operations that take client authentication.
client="$(api POST /admin/clients '{"name":"Schemathesis backend","client_type":"confidential","grant_types":["client_credentials"]}')"
client_id="$(json "['client_id']" <<<"$client")"
client_secret="$(json "['client_secret']" <<<"$client")"
victim_client="$(api POST /admin/clients '{"name":"Victim","client_type":"confidential","grant_types":["client_credentials"]}' | json "['client_id']")"

config="$work/schemathesis.toml"
cat >"$config" <<TOML
# Nothing carried over between runs: every run starts from the seed alone.
[cache]
enabled = false

# The credentials for the two security schemes the document declares.
[auth.openapi.bearer]
bearer = "$token"

[auth.openapi.client_secret_basic]
username = "$client_id"
password = "$client_secret"

# Schemathesis learns ids from responses (the admin's among them); these
# operations get the victims' instead, so none of them ends the session or
# changes the client the whole run authenticates with.
[[operations]]
include-name = "DELETE /admin/users/{id}"
parameters = { id = "$victim" }

[[operations]]
include-name = "PATCH /admin/users/{id}"
parameters = { id = "$victim" }

[[operations]]
include-name = "PUT /admin/users/{id}/roles"
parameters = { id = "$victim" }

[[operations]]
include-name = "DELETE /admin/users/{id}/sessions/{session_id}"
parameters = { id = "$victim", session_id = "$victim_session" }

[[operations]]
include-name = "PATCH /admin/clients/{id}"
parameters = { id = "$victim_client" }

[[operations]]
include-name = "DELETE /admin/clients/{id}"
parameters = { id = "$victim_client" }

[[operations]]
include-name = "POST /admin/clients/{id}/secret"
parameters = { id = "$victim_client" }

[[operations]]
include-name = "DELETE /auth/sessions/{id}"
parameters = { id = "$spare_session" }
TOML

# Every check but two that do not fit: positive_data_acceptance wants 2xx
# for any schema-valid body, but a schema-valid password, code or refresh
# token is still almost always wrong; object_level_authorization needs a
# second user's token.
st=("$venv/bin/st" --config-file "$config" run "$base/openapi.json"
    --checks all --exclude-checks positive_data_acceptance,object_level_authorization
    --max-examples "$EXAMPLES" --seed "$SEED" --generation-database none
    --request-timeout 30 --workers 1 --no-color
    # A redirect is the answer under test, and it may point at a client's
    # redirect URI on any host: never follow one.
    --max-redirects 0)

started=$(date +%s)
status=0
echo "=== pass 1: every operation, stateless"
"${st[@]}" --phases examples,coverage,fuzzing || status=$?

echo "=== pass 2: stateful (calls chained through inferred links)"
"${st[@]}" --phases stateful \
    --exclude-name 'DELETE /admin/users/{id}' \
    --exclude-name 'PATCH /admin/users/{id}' \
    --exclude-name 'PUT /admin/users/{id}/roles' \
    --exclude-name 'DELETE /admin/users/{id}/sessions/{session_id}' \
    --exclude-name 'DELETE /auth/sessions/{id}' \
    --exclude-name 'PATCH /admin/clients/{id}' \
    --exclude-name 'DELETE /admin/clients/{id}' \
    --exclude-name 'POST /admin/clients/{id}/secret' \
    || status=$?

echo "=== $(( $(date +%s) - started ))s"
# The token must have outlived the run, or the later operations only saw 401s.
api GET /admin/dashboard >/dev/null || { echo "the admin token did not survive the run" >&2; status=1; }
if grep -E 'ERROR|panicked' "$work/server.log"; then status=1; fi
exit "$status"
