# Shared by the bench scripts: paths, settings, starting and stopping the servers under test.
# Sourced, not run. Every knob is an environment variable with a default (see bench/README.md).

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
: "${BENCH_BIN_DIR:=$REPO/target/release}"
: "${BENCH_WORK:=/tmp/chasqui-bench}"
: "${BENCH_PEER_DIR:=$REPO/../shared/bench-peer}"
: "${BENCH_PEER_PY:=/tmp/peer-venv/bin/python}"
: "${BENCH_SECRET:=bench-app-secret-0123456789abcdef}"
: "${BENCH_PNID:=1122334455667}"
: "${BENCH_DURATION:=10}"
: "${BENCH_CONNS:=32}"
: "${BENCH_PORT_CHASQUI:=18080}"
: "${BENCH_PORT_HELLO:=18091}"
: "${BENCH_PORT_GRAPH:=18092}"
: "${BENCH_PORT_PEER:=18088}"
: "${BENCH_DATABASE_URL:=}" # postgres://… runs Chasqui on PostgreSQL (each run gets a fresh database)
: "${BENCH_RESULTS:=$BENCH_WORK/results.jsonl}"
export BENCH_SECRET

CHASQUI="$BENCH_BIN_DIR/chasqui"
HELLO="$BENCH_BIN_DIR/bench-hello"
LOADGEN="$BENCH_BIN_DIR/bench-loadgen"

mkdir -p "$BENCH_WORK"
BENCH_PIDS=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_bins() {
    for b in "$CHASQUI" "$HELLO" "$LOADGEN"; do
        [[ -x "$b" ]] || die "$b is missing: run \`cargo build --release -p chasqui -p chasqui-bench-hello -p chasqui-bench-loadgen\` (or set BENCH_BIN_DIR)"
    done
}

cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]:-}"; do
        [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]:-}"; do
        [[ -n "$pid" ]] && wait "$pid" 2>/dev/null || true
    done
    BENCH_PIDS=()
}
trap cleanup EXIT

# stop PID: terminate one server we started and wait for it.
stop() {
    local pid="$1"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local kept=() p
    for p in "${BENCH_PIDS[@]:-}"; do [[ "$p" != "$pid" && -n "$p" ]] && kept+=("$p"); done
    BENCH_PIDS=("${kept[@]:-}")
}

# wait_http URL [SECONDS]: until URL answers 2xx.
wait_http() {
    local url="$1" limit="${2:-30}" i
    for ((i = 0; i < limit * 20; i++)); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.05
    done
    die "$url did not come up within ${limit}s"
}

# Payloads: N unique signed webhooks, made by the peer's generator so Chasqui and the peer get
# the same bytes. Falls back to ours (same format) when the peer directory is absent.
ensure_payloads() {
    local n="$1" file="$BENCH_WORK/payloads.tsv"
    if [[ -f "$file" ]] && (($(wc -l <"$file") >= n)); then
        echo "$file"
        return
    fi
    if [[ -f "$BENCH_PEER_DIR/gen_payloads.py" ]]; then
        log "generating $n payloads with $BENCH_PEER_DIR/gen_payloads.py"
        (cd "$BENCH_WORK" && BENCH_APP_SECRET="$BENCH_SECRET" python3 "$BENCH_PEER_DIR/gen_payloads.py" "$n" >&2)
    else
        log "no $BENCH_PEER_DIR; generating $n payloads with bench/gen_webhooks.py"
        python3 "$BENCH_DIR/gen_webhooks.py" inbound --count "$n" --pnid "$BENCH_PNID" --out "$file" >&2
    fi
    echo "$file"
}

# The database URL for a fresh Chasqui run in DIR (SQLite file, or a new PostgreSQL database).
fresh_database_url() {
    local dir="$1" server="${2-$BENCH_DATABASE_URL}"
    if [[ -z "$server" ]]; then
        echo "sqlite://$dir/chasqui.db"
        return
    fi
    local db
    db="bench_$(date +%s%N | cut -c1-16)"
    psql "$server" -qAtc "CREATE DATABASE $db" >/dev/null
    echo "${server%/*}/$db"
}

# start_chasqui NAME [ENV=VALUE…]: a fresh data directory and database, a tenant with an API key,
# the server up and ready, a WhatsApp Cloud channel for the payloads' phone_number_id. Sets
# CHASQUI_PID, CHASQUI_URL, CHASQUI_KEY, CHASQUI_DB_URL, CHASQUI_DATA. CHASQUI_DB_SERVER (default
# BENCH_DATABASE_URL) names the PostgreSQL server to use; empty for SQLite.
start_chasqui() {
    local name="$1"
    shift
    CHASQUI_DATA="$BENCH_WORK/$name"
    rm -rf "$CHASQUI_DATA"
    mkdir -p "$CHASQUI_DATA"
    CHASQUI_DB_URL="$(fresh_database_url "$CHASQUI_DATA" "${CHASQUI_DB_SERVER-$BENCH_DATABASE_URL}")"
    CHASQUI_URL="http://127.0.0.1:$BENCH_PORT_CHASQUI"
    export CHASQUI_DATA_DIR="$CHASQUI_DATA" CHASQUI_DATABASE_URL="$CHASQUI_DB_URL"
    CHASQUI_KEY="$("$CHASQUI" tenant create "Bench $name" --json 2>"$CHASQUI_DATA/tenant.log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
    env CHASQUI_LISTEN="127.0.0.1:$BENCH_PORT_CHASQUI" CHASQUI_META_APP_SECRET="$BENCH_SECRET" \
        CHASQUI_LOG="${BENCH_CHASQUI_LOG:-warn}" "$@" "$CHASQUI" serve >"$CHASQUI_DATA/serve.log" 2>&1 &
    CHASQUI_PID=$!
    BENCH_PIDS+=("$CHASQUI_PID")
    unset CHASQUI_DATA_DIR CHASQUI_DATABASE_URL
    wait_http "$CHASQUI_URL/readyz"
    local settings="${BENCH_CHANNEL_SETTINGS:-}"
    [[ -n "$settings" ]] || settings='{}'
    curl -fsS -o "$CHASQUI_DATA/channel.json" -X POST "$CHASQUI_URL/v1/channels" \
        -H "Authorization: Bearer $CHASQUI_KEY" -H 'Content-Type: application/json' \
        -d "{\"kind\":\"whatsapp_cloud\",\"phone_number_id\":\"$BENCH_PNID\",\"access_token\":\"bench-token\",\"settings\":$settings}" ||
        die "creating the channel failed; see $CHASQUI_DATA/serve.log"
}

start_hello() {
    "$HELLO" "127.0.0.1:$BENCH_PORT_HELLO" 2>"$BENCH_WORK/hello.log" &
    HELLO_PID=$!
    BENCH_PIDS+=("$HELLO_PID")
    wait_http "http://127.0.0.1:$BENCH_PORT_HELLO/"
}

start_graph() {
    "$HELLO" --graph "127.0.0.1:$BENCH_PORT_GRAPH" 2>"$BENCH_WORK/graph.log" &
    GRAPH_PID=$!
    BENCH_PIDS+=("$GRAPH_PID")
    wait_http "http://127.0.0.1:$BENCH_PORT_GRAPH/stats"
}

peer_available() {
    [[ -f "$BENCH_PEER_DIR/peer_app.py" && -x "$BENCH_PEER_PY" ]] && "$BENCH_PEER_PY" -c 'import pywa, fastapi, uvicorn' 2>/dev/null
}

# start_peer NAME: the pywa + FastAPI receiver (SQLite WAL store), run where it lives.
start_peer() {
    local name="$1" dir="$BENCH_WORK/$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$BENCH_PEER_DIR" && PEER_STORE="${BENCH_PEER_STORE:-sqlite}" PEER_SQLITE="$dir/peer-messages.db" \
        PEER_APP_SECRET="$BENCH_SECRET" exec "$BENCH_PEER_PY" -m uvicorn peer_app:app --host 127.0.0.1 \
        --port "$BENCH_PORT_PEER" --workers "${BENCH_PEER_WORKERS:-1}" --log-level warning --no-access-log) \
        >"$dir/peer.log" 2>&1 &
    PEER_PID=$!
    BENCH_PIDS+=("$PEER_PID")
    wait_http "http://127.0.0.1:$BENCH_PORT_PEER/stats"
}

# loadgen ARGS…: runs our load generator; prints its BENCH JSON (without the prefix).
loadgen() {
    "$LOADGEN" "$@" | sed -n 's/^BENCH //p'
}

# merge JSON KEY=VALUE…: adds fields (values are JSON) to a JSON object.
merge() {
    local base="$1"
    shift
    python3 - "$base" "$@" <<'EOF'
import json, sys
o = json.loads(sys.argv[1])
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    try:
        o[k] = json.loads(v)
    except ValueError:
        o[k] = v
print(json.dumps(o, separators=(",", ":")))
EOF
}

# record JSON: prints the machine-readable line and keeps it for the report.
record() {
    echo "BENCH $1"
    echo "$1" >>"$BENCH_RESULTS"
}

machine_json() {
    python3 - "$REPO" <<'EOF'
import json, os, platform, subprocess, sys
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True, cwd=sys.argv[1]).stdout.strip()
    except Exception:
        return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
print(json.dumps({"nproc": os.cpu_count(), "cpu": cpu, "ram": mem, "kernel": platform.release(),
                  "loadavg_at_start": open("/proc/loadavg").read().split()[0],
                  "commit": sh("git rev-parse HEAD"), "dirty": bool(sh("git status --porcelain --untracked-files=no"))}))
EOF
}
