#!/usr/bin/env bash
# Benchmarks idp with the team's load generator (../shared/tools/loadgen) on
# SQLite and PostgreSQL, prints one table, and appends it with the commit and
# the machine to BENCHMARKS.md.
#
#   scripts/bench.sh                      # every scenario, both engines, 20 s each
#   DURATION=3 scripts/bench.sh --smoke   # a few seconds each; fails on any error (CI)
#
# Environment: DURATION (s, default 20), CONCURRENCY (default 32),
# ENGINES ("sqlite postgres"), SCENARIOS (see below; password_c256 is the
# password grant at 256 connections), ALGORITHM (RS256), SEED ("USERS
# REFRESH_TOKENS": fill each database with scripts/bench_seed.py first),
# BENCH_PG_URL (admin URL, default postgres://postgres@127.0.0.1:5432/test
# without TLS: on loopback, as with a same-host or socket deployment, TLS
# only burns the two cores; drop ?sslmode=disable to measure with it),
# LOADGEN_DIR (default: ../shared/tools/loadgen next to this repository),
# IDP_BIN (an idp binary to use instead of building a release one; CI's smoke
# run reuses the binary the test build made, which is enough to prove every
# scenario works but not for figures worth recording).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

smoke=false
record=true
for arg in "$@"; do
    case "$arg" in
        --smoke) smoke=true; record=false ;;
        --no-record) record=false ;;
        *) echo "unknown argument: $arg" >&2; exit 2 ;;
    esac
done

DURATION="${DURATION:-$($smoke && echo 3 || echo 20)}"
CONCURRENCY="${CONCURRENCY:-32}"
ENGINES="${ENGINES:-sqlite postgres}"
SCENARIOS="${SCENARIOS:-jwks discovery userinfo introspect client_credentials refresh password password_c256}"
ALGORITHM="${ALGORITHM:-RS256}"
BENCH_PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
PORT="${PORT:-18080}"
base="http://127.0.0.1:$PORT"
user="bench_user"
password="Bench-pass-123!"

find_loadgen() {
    for dir in "${LOADGEN_DIR:-}" "$root/../shared/tools/loadgen" /work/shared/tools/loadgen; do
        [ -n "$dir" ] && [ -f "$dir/Cargo.toml" ] && { echo "$dir"; return; }
    done
    echo "loadgen not found; set LOADGEN_DIR" >&2
    exit 2
}
loadgen_dir="$(find_loadgen)"
if [ -n "${IDP_BIN:-}" ]; then
    idp="$(cd "$(dirname "$IDP_BIN")" && pwd)/$(basename "$IDP_BIN")"
    [ -x "$idp" ] || { echo "IDP_BIN=$IDP_BIN is not an executable" >&2; exit 2; }
    if $record; then echo "IDP_BIN is for smoke runs; not recording its figures" >&2; record=false; fi
else
    echo "building idp (release)…" >&2
    cargo build --release --locked -p idp >&2
    idp="$root/target/release/idp"
fi
echo "building loadgen (release)…" >&2
(cd "$loadgen_dir" && cargo build --release --locked >&2)
loadgen="$loadgen_dir/target/release/loadgen"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

db_url() { # engine -> the database URL it serves (PostgreSQL: idp_bench)
    case "$1" in
        sqlite) echo "sqlite://$work/sqlite/idp.db" ;;
        postgres) python3 -c "import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(p._replace(path='/idp_bench').geturl())" "$BENCH_PG_URL" ;;
    esac
}

launch() { # url: starts idp serve on it in the background
    DATABASE_URL="$1" SECRET_KEY="bench-secret-key-0123456789abcdef0123456789" \
        ISSUER="$base" BIND="127.0.0.1:$PORT" ALGORITHM="$ALGORITHM" RUST_LOG=warn \
        RATE_LIMIT_PER_MINUTE=0 \
        "$idp" serve >>"$work/server.log" 2>&1 &
    server_pid=$!
}

# Milliseconds from exec to the first 200 from /readyz, on the existing
# database (the start-up target); polls every millisecond.
startup_ms() { # engine
    local url
    url="$(db_url "$1")"
    python3 - "$idp" "$url" "$base" "$PORT" "$ALGORITHM" "$work/server.log" <<'PY'
import os, subprocess, sys, time, urllib.request
idp, url, base, port, alg, log = sys.argv[1:7]
env = dict(os.environ, DATABASE_URL=url, SECRET_KEY="bench-secret-key-0123456789abcdef0123456789",
           ISSUER=base, BIND=f"127.0.0.1:{port}", ALGORITHM=alg, RUST_LOG="warn", RATE_LIMIT_PER_MINUTE="0")
started = time.monotonic()
proc = subprocess.Popen([idp, "serve"], env=env, stdout=open(log, "a"), stderr=subprocess.STDOUT)
try:
    while True:
        try:
            if urllib.request.urlopen(f"{base}/readyz", timeout=1).status == 200:
                break
        except Exception:
            if time.monotonic() - started > 20 or proc.poll() is not None:
                sys.exit("idp did not become ready")
            time.sleep(0.001)
    print(round((time.monotonic() - started) * 1000))
finally:
    proc.terminate()
    proc.wait()
PY
}

start_server() { # engine
    local engine="$1" url
    case "$engine" in
        sqlite) url="$(db_url sqlite)" ;;
        postgres)
            psql "$BENCH_PG_URL" -qc "DROP DATABASE IF EXISTS idp_bench WITH (FORCE)" >/dev/null
            psql "$BENCH_PG_URL" -qc "CREATE DATABASE idp_bench" >/dev/null
            url="$(db_url postgres)"
            ;;
    esac
    mkdir -p "$work/sqlite"
    launch "$url"
    for _ in $(seq 1 100); do
        curl -fs "$base/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    curl -fs "$base/readyz" >/dev/null
    curl -fs -H 'content-type: application/json' \
        -d "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"$password\"}" \
        "$base/auth/register" >/dev/null
    # A backend client for client_credentials and introspection.
    DATABASE_URL="$url" SECRET_KEY="bench-secret-key-0123456789abcdef0123456789" RUST_LOG=warn \
        "$idp" client create --name "Bench backend" --confidential \
        --grant-type client_credentials --scope bench:read --file "$work/client.json" >/dev/null
    client_id="$(json_field "['client_id']" <"$work/client.json")"
    client_secret="$(json_field "['client_secret']" <"$work/client.json")"
}

stop_server() {
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$server_pid/status"; }

run_scenario() { # scenario -> one loadgen JSON line
    local scenario="$1" c="$CONCURRENCY"
    [ "$scenario" = password_c256 ] && c=256
    local common=(-c "$c" -d "$DURATION" --warmup 1 -t 1 --label "$scenario")
    case "$scenario" in
        jwks) "$loadgen" "${common[@]}" get "$base/.well-known/jwks.json" ;;
        discovery) "$loadgen" "${common[@]}" get "$base/.well-known/openid-configuration" ;;
        userinfo)
            local token
            token="$(curl -fs -d grant_type=password -d "username=$user" -d "password=$password" "$base/auth/token" | json_field "['access_token']")"
            "$loadgen" "${common[@]}" get "$base/auth/userinfo" --bearer "$token" ;;
        introspect)
            local token
            token="$(curl -fs -u "$client_id:$client_secret" -d grant_type=client_credentials "$base/auth/token" | json_field "['access_token']")"
            "$loadgen" "${common[@]}" introspect --url "$base/auth/introspect" --token "$token" \
                --client-id "$client_id" --client-secret "$client_secret" ;;
        client_credentials)
            "$loadgen" "${common[@]}" client-credentials --token-url "$base/auth/token" \
                --client-id "$client_id" --client-secret "$client_secret" --scope bench:read ;;
        refresh)
            "$loadgen" "${common[@]}" refresh-chain --token-url "$base/auth/token" --username "$user" --password "$password" ;;
        password)
            "$loadgen" "${common[@]}" password --token-url "$base/auth/token" --username "$user" --password "$password" ;;
        password_c256)
            # Far more callers than hashing slots: they must queue (or get
            # 503 + Retry-After from the bounded queue), never fail otherwise.
            "$loadgen" "${common[@]}" password --token-url "$base/auth/token" --username "$user" --password "$password" ;;
        *) echo "unknown scenario $scenario" >&2; return 2 ;;
    esac
}

results="$work/results.tsv"
failed=0
for engine in $ENGINES; do
    start_server "$engine"
    if [ -n "${SEED:-}" ]; then
        # shellcheck disable=SC2086 # "USERS REFRESH_TOKENS"
        python3 "$root/scripts/bench_seed.py" "$(db_url "$engine")" $SEED
    fi
    # Idle: after start-up, one registration and a few seconds at rest
    # (hashing threads free their Argon2 memory after 2 s without work, and
    # jemalloc hands freed pages back to the system over about 10 s).
    sleep 12
    idle_rss="$(rss_mb)"
    for scenario in $SCENARIOS; do
        line="$(run_scenario "$scenario")"
        rss="$(rss_mb)"
        echo "$line" >&2
        python3 - "$engine" "$scenario" "$rss" "$idle_rss" "$line" >>"$results" <<'PY'
import json, sys
engine, scenario, rss, idle, line = sys.argv[1:6]
r = json.loads(line)
lat = r["latency_ms"]
print("\t".join([engine, scenario, f'{r["rps"]:.0f}', f'{r["ok_rps"]:.0f}', str(r["errors"]),
                 f'{lat["p50"]:.2f}', f'{lat["p99"]:.2f}', f'{r["client_cpu_pct"]:.0f}', rss, idle]))
PY
        errors="$(echo "$line" | json_field "['errors']")"
        if [ "$errors" != "0" ]; then
            echo "!! $engine/$scenario: $errors errors" >&2
            failed=1
        fi
    done
    stop_server
    echo "$engine $(startup_ms "$engine")" >>"$work/startup.txt"
done

table="$(python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
print("| engine | scenario | req/s | ok/s | errors | p50 ms | p99 ms | loadgen CPU % | RSS MB (idle) |")
print("|---|---|---|---|---|---|---|---|---|")
for e, s, rps, ok, err, p50, p99, cpu, rss, idle in rows:
    print(f"| {e} | {s} | {rps} | {ok} | {err} | {p50} | {p99} | {cpu} | {rss} ({idle}) |")
PY
)"
startup="$(awk '{printf "%s%s %s ms", sep, $1, $2; sep=", "}' "$work/startup.txt")"
table="$table

Start-up to \`/readyz\` on the database just used: $startup."
echo "$table"

if $record; then
    {
        echo
        echo "## $(date -u +%Y-%m-%dT%H:%MZ) — commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
        echo
        echo "Machine: $(nproc) cores, $(awk -F: '/model name/ {gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo). ALGORITHM=$ALGORITHM, c=$CONCURRENCY, ${DURATION}s per scenario, loadgen -t 1 on the same machine.${SEED:+ Database seeded first by scripts/bench_seed.py (users, refresh tokens: $SEED).}"
        echo
        echo "$table"
    } >>BENCHMARKS.md
    echo "appended to BENCHMARKS.md" >&2
fi
exit "$failed"
