#!/usr/bin/env bash
# Outbound benchmark: `POST /v1/messages` against Chasqui with a local Graph API imitation
# (`bench-hello --graph`) as the channel's base_url.
#
#  1. BENCH_NUMBERS customers write first (signed inbound webhooks), opening their 24-hour windows.
#  2. End to end, workers on: sends at BENCH_E2E_RATE/s for BENCH_DURATION s, spread over those
#     customers; then the time until every accepted send is `sent` at the imitation, and each
#     message's queued→sent time (the channel's throughput is set to its maximum, 1,000/s).
#  3. Acceptance, workers off (only the API and its commit): full speed, then BENCH_ACCEPT_RATES.
#     Every 202 is checked to be one queued message row.
#
#   bench/outbound.sh
#
# Settings: BENCH_DURATION (10), BENCH_NUMBERS (5000), BENCH_E2E_RATE (500), BENCH_ACCEPT_RATES
# ("5000"), BENCH_CONNS (32), BENCH_OPEN_CONNS (128), BENCH_SENDS (payload lines, 150000),
# BENCH_DATABASE_URL (postgres://…).

source "$(dirname "$0")/lib.sh"
need_bins

NUMBERS="${BENCH_NUMBERS:-5000}"
SENDS="${BENCH_SENDS:-150000}"
E2E_RATE="${BENCH_E2E_RATE:-500}"
ACCEPT_RATES="${BENCH_ACCEPT_RATES-5000}"
OPEN_CONNS="${BENCH_OPEN_CONNS:-128}"
BACKEND=sqlite
[[ -n "$BENCH_DATABASE_URL" ]] && BACKEND=postgres
RUN_ID="outbound-$(date +%Y%m%dT%H%M%S)"
OPENERS="$BENCH_WORK/openers-$NUMBERS.tsv"
SENDFILE="$BENCH_WORK/sends-$NUMBERS-$SENDS.tsv"
CLK_TCK="$(getconf CLK_TCK)"
cpu_secs() { awk -v t="$CLK_TCK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# Openers carry today's timestamp, so they are made fresh for every run.
python3 "$BENCH_DIR/gen_webhooks.py" outbound --numbers "$NUMBERS" --sends "$SENDS" --pnid "$BENCH_PNID" \
    --openers "$OPENERS" --out "$SENDFILE" >&2

record "$(merge "$(machine_json)" "run=\"$RUN_ID\"" "kind=\"machine\"")"
start_graph
GRAPH_URL="http://127.0.0.1:$BENCH_PORT_GRAPH"
export BENCH_CHANNEL_SETTINGS="{\"base_url\":\"$GRAPH_URL\",\"throughput_per_second\":1000}"
SERVER_ENV=(CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS=true)
start_chasqui "outbound-$BACKEND" "${SERVER_ENV[@]}"
DATA="$CHASQUI_DATA" DB_URL="$CHASQUI_DB_URL" KEY="$CHASQUI_KEY"

log "opening $NUMBERS windows"
res="$(loadgen --url "$CHASQUI_URL/webhooks/whatsapp" --payloads "$OPENERS" --duration 120 --label outbound/openers)"
opened="$(field "$res" ok)"
((opened == NUMBERS)) || die "only $opened of $NUMBERS opening webhooks were acknowledged"
python3 "$BENCH_DIR/dbwait.py" inbound --db "$DB_URL" --expect "$NUMBERS" --end-ms "$(field "$res" end_unix_ms)" >/dev/null ||
    die "the opening webhooks did not all become messages"

queued_total=0
skip=0

# send LABEL LOAD ARGS…: one run of sends from the next unused payload lines.
send() {
    local label="$1" load="$2" pid="$CHASQUI_PID" c0 c1 out
    shift 2
    c0="$(cpu_secs "$pid")"
    out="$(loadgen --url "$CHASQUI_URL/v1/messages" --payloads "$SENDFILE" --skip "$skip" --expect 202 \
        -H "Authorization: Bearer $KEY" --duration "$BENCH_DURATION" --label "$label" "$@")"
    c1="$(cpu_secs "$pid")"
    skip=$((skip + $(field "$out" sent)))
    queued_total=$((queued_total + $(field "$out" ok)))
    SEND_RESULT="$(merge "$out" "run=\"$RUN_ID\"" "load=\"$load\"" "backend=\"$BACKEND\"" "server_cpu_s=$(python3 -c "print(round($c1 - $c0, 2))")")"
}

log "end to end at $E2E_RATE/s, workers on"
send outbound/e2e "$E2E_RATE" --rate "$E2E_RATE" --connections "$OPEN_CONNS"
check="$(python3 "$BENCH_DIR/dbwait.py" sent --db "$DB_URL" --expect "$queued_total" --end-ms "$(field "$SEND_RESULT" end_unix_ms)" || true)"
graph_sends="$(curl -fsS "$GRAPH_URL/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sends"])')"
[[ -n "$check" ]] || check='{"verified":false}'
record "$(merge "$SEND_RESULT" "check=$check" "graph_received=$graph_sends")"

log "acceptance, workers off"
stop "$CHASQUI_PID"
env CHASQUI_DATA_DIR="$DATA" CHASQUI_DATABASE_URL="$DB_URL" CHASQUI_LISTEN="127.0.0.1:$BENCH_PORT_CHASQUI" \
    CHASQUI_META_APP_SECRET="$BENCH_SECRET" CHASQUI_LOG="${BENCH_CHASQUI_LOG:-warn}" CHASQUI_WORKERS_ENABLED=false \
    "${SERVER_ENV[@]}" "$CHASQUI" serve >>"$DATA/serve.log" 2>&1 &
CHASQUI_PID=$!
BENCH_PIDS+=("$CHASQUI_PID")
wait_http "$CHASQUI_URL/readyz"
for load in full $ACCEPT_RATES; do
    if [[ "$load" == full ]]; then
        send "outbound/accept-full" full --rate 0 --connections "$BENCH_CONNS"
    else
        send "outbound/accept-$load" "$load" --rate "$load" --connections "$OPEN_CONNS"
    fi
    rows="$(PYTHONDONTWRITEBYTECODE=1 python3 - "$DB_URL" "$BENCH_DIR" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from dbwait import Db
print(Db(sys.argv[1]).one("SELECT count(*) FROM messages WHERE direction = 'out'"))
EOF
)"
    record "$(merge "$SEND_RESULT" "check={\"outbound_rows\":$rows,\"expected\":$queued_total,\"verified\":$([[ "$rows" == "$queued_total" ]] && echo true || echo false)}")"
done
stop "$CHASQUI_PID"
if [[ "$DB_URL" == postgres* ]]; then
    psql "${DB_URL%/*}/postgres" -qAtc "DROP DATABASE IF EXISTS ${DB_URL##*/}" >/dev/null 2>&1 || true
fi
python3 "$BENCH_DIR/report.py" "$BENCH_RESULTS" "$RUN_ID"
