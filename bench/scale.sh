#!/usr/bin/env bash
# Scale benchmark (issue 6, item 5): memory and read latency of the conversation and search APIs
# with many stored messages, and ingest throughput with 10 thousand against 1 million stored.
#
#   bench/scale.sh                                   SQLite
#   BENCH_DATABASE_URL=$(bench/pg.sh start) bench/scale.sh     PostgreSQL
#
# 1. Two fresh databases, each set up through Chasqui (migrations, tenant, API key, three
#    channels through the API), then seeded by SQL (bench/seed_messages.py: realistic contacts,
#    conversations, inbound and outbound messages with statuses over 180 days, searchable like
#    real rows) with BENCH_SCALE_SMALL (10,000) and BENCH_SCALE_MESSAGES (1,000,000) messages.
#    The seeding time is measured and printed.
# 2. On the large one, a freshly started `chasqui serve` answers reads, each kind twice: serial
#    (closed loop, one connection: the cost of one request alone) and open loop at
#    BENCH_SCALE_RATE (200/s, latency from each request's due time, so queueing counts):
#    `GET /v1/conversations` (first page, a random page deep by cursor), a random conversation's
#    messages, `GET /v1/messages?q=` for a common, a medium, a rare, an absent word, an order
#    number and two words, and filters (failed sends, a one-day window, a provider id, a
#    combination). Then the server's VmHWM (peak) and VmRSS.
# 3. Full-speed ingest (the signed payloads of ingest.sh, closed loop, BENCH_DURATION s) into
#    each database, with the lag until every acknowledged webhook is a message and the counts.
#
# Settings: BENCH_SCALE_MESSAGES (1000000), BENCH_SCALE_SMALL (10000), BENCH_SCALE_CONTACTS
# (messages/20, at most 50,000), BENCH_SCALE_RATE (200), BENCH_SCALE_READ_SECS (10),
# BENCH_SCALE_SERIAL (requests per serial run, 100) within BENCH_SCALE_SERIAL_SECS (10),
# BENCH_SCALE_CONNS (open-loop connections, 16), BENCH_SCALE_READS (read kinds to run, default
# all), BENCH_SCALE_KEEP=1 (keep the seeded databases), BENCH_DURATION (ingest seconds, 10),
# BENCH_CONNS (ingest connections, 32), BENCH_PAYLOADS (100000), BENCH_DATABASE_URL
# (postgres://…; default SQLite).
# Output: one `BENCH {json}` line per seeding, read run, memory reading and ingest run (also
# appended to $BENCH_WORK/results.jsonl), then tables and `BENCH_SUMMARY {json}`.

source "$(dirname "$0")/lib.sh"
need_bins

MESSAGES="${BENCH_SCALE_MESSAGES:-1000000}"
SMALL="${BENCH_SCALE_SMALL:-10000}"
RATE="${BENCH_SCALE_RATE:-200}"
READ_SECS="${BENCH_SCALE_READ_SECS:-10}"
SERIAL="${BENCH_SCALE_SERIAL:-100}"
SERIAL_SECS="${BENCH_SCALE_SERIAL_SECS:-10}"
READ_CONNS="${BENCH_SCALE_CONNS:-16}"
ALL_READS="conversations/first conversations/deep conversation/messages search/common search/medium search/rare
search/order-number search/absent search/two-words filter/failed filter/one-day filter/provider-id filter/combined"
READS="${BENCH_SCALE_READS:-$ALL_READS}"
PAYLOAD_COUNT="${BENCH_PAYLOADS:-100000}"
BACKEND=sqlite
[[ -n "$BENCH_DATABASE_URL" ]] && BACKEND=postgres
RUN_ID="scale-$BACKEND-$(date +%Y%m%dT%H%M%S)"
read -r -a CHASQUI_ENV <<<"${BENCH_CHASQUI_ENV:-}"
PAYLOADS="$(ensure_payloads "$PAYLOAD_COUNT")"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
rss_of() { awk -v k="$2:" '$1 == k {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }

# serve_again: `chasqui serve` on the current data directory and database (after seeding).
serve_again() {
    env CHASQUI_DATA_DIR="$CHASQUI_DATA" CHASQUI_DATABASE_URL="$CHASQUI_DB_URL" \
        CHASQUI_LISTEN="127.0.0.1:$BENCH_PORT_CHASQUI" CHASQUI_META_APP_SECRET="$BENCH_SECRET" \
        CHASQUI_LOG="${BENCH_CHASQUI_LOG:-warn}" "${CHASQUI_ENV[@]}" "$CHASQUI" serve >>"$CHASQUI_DATA/serve.log" 2>&1 &
    CHASQUI_PID=$!
    BENCH_PIDS+=("$CHASQUI_PID")
    wait_http "$CHASQUI_URL/readyz" 120
}

api() { curl -fsS -H "Authorization: Bearer $CHASQUI_KEY" -H 'Content-Type: application/json' "$@"; }

# prepare NAME N: a fresh database with N seeded messages and the server running on it.
prepare() {
    local name="$1" n="$2" t0 t1 seedout contacts=()
    start_chasqui "scale-$BACKEND-$name" "${CHASQUI_ENV[@]}"
    api -o /dev/null -X POST "$CHASQUI_URL/v1/channels" \
        -d '{"kind":"whatsapp_cloud","phone_number_id":"2233445566778","access_token":"bench-token","settings":{}}'
    api -o /dev/null -X POST "$CHASQUI_URL/v1/channels" \
        -d '{"kind":"whatsapp_cloud","phone_number_id":"3344556677889","access_token":"bench-token","settings":{}}'
    TENANT="$(api "$CHASQUI_URL/v1/tenant" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    # The payloads' channel first: the seeder puts 70 % of the conversations on it.
    CHANNELS="$(api "$CHASQUI_URL/v1/channels?limit=200" | python3 -c '
import json, sys
chs = [c for c in json.load(sys.stdin)["data"] if c.get("kind") == "whatsapp_cloud"]
chs.sort(key=lambda c: c.get("phone_number_id") != sys.argv[1])
print(",".join(c["id"] for c in chs))' "$BENCH_PNID")"
    stop "$CHASQUI_PID"
    [[ -n "${BENCH_SCALE_CONTACTS:-}" ]] && contacts=(--contacts "$BENCH_SCALE_CONTACTS")
    log "seeding $n messages into $CHASQUI_DB_URL"
    t0="$(date +%s.%N)"
    seedout="$(python3 "$BENCH_DIR/seed_messages.py" seed --db "$CHASQUI_DB_URL" --tenant "$TENANT" --channels "$CHANNELS" \
        --messages "$n" "${contacts[@]}" --manifest "$CHASQUI_DATA/manifest.json")"
    t1="$(date +%s.%N)"
    record "$(merge "$seedout" "run=\"$RUN_ID\"" "kind=\"seed\"" "label=\"seed/$name\"" "backend=\"$BACKEND\"" \
        "wall_s=$(python3 -c "print(round($t1 - $t0, 1))")")"
    serve_again
    MANIFEST="$CHASQUI_DATA/manifest.json"
}

# finish: stops the server and, unless BENCH_SCALE_KEEP=1, removes the database.
finish() {
    stop "$CHASQUI_PID"
    [[ "${BENCH_SCALE_KEEP:-0}" == 1 ]] && { log "kept $CHASQUI_DB_URL"; return; }
    if [[ "$CHASQUI_DB_URL" == postgres* ]]; then
        psql "${CHASQUI_DB_URL%/*}/postgres" -qAtc "DROP DATABASE IF EXISTS ${CHASQUI_DB_URL##*/}" >/dev/null 2>&1 || true
    else
        rm -rf "$CHASQUI_DATA"
    fi
}

# read_paths KIND COUNT FILE: COUNT request lines (`<TAB>/path?query`) of one read kind, drawn
# at random from the manifest's samples.
read_paths() {
    python3 - "$MANIFEST" "$1" "$2" "$3" <<'EOF'
import json, random, sys
from datetime import datetime, timezone
from urllib.parse import quote
m = json.load(open(sys.argv[1]))
kind, count, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(kind)
w = {k: quote(v["word"]) for k, v in m["words"].items()}
iso = lambda ms: quote(datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
day0, day1 = m["day_window"]
convs, pids, chans = m["conversation_sample"], m["provider_id_sample"], m["channels"]
gen = {
    "conversations/first": lambda: "/v1/conversations?limit=50",
    "conversations/deep": lambda: "/v1/conversations?limit=50&cursor=" + rng.choice(convs),
    "conversation/messages": lambda: "/v1/conversations/%s/messages?limit=50" % rng.choice(convs),
    "search/common": lambda: "/v1/messages?limit=50&q=" + w["common"],
    "search/medium": lambda: "/v1/messages?limit=50&q=" + w["medium"],
    "search/rare": lambda: "/v1/messages?limit=50&q=" + w["rare"],
    "search/order-number": lambda: "/v1/messages?limit=50&q=" + w["order_number"],
    "search/absent": lambda: "/v1/messages?limit=50&q=" + w["absent"],
    "search/two-words": lambda: "/v1/messages?limit=50&q=%s+%s" % (w["common"], w["medium"]),
    "filter/failed": lambda: "/v1/messages?limit=50&direction=out&status=failed",
    "filter/one-day": lambda: "/v1/messages?limit=50&since=%s&until=%s" % (iso(day0), iso(day1)),
    "filter/provider-id": lambda: "/v1/messages?limit=50&provider_message_id=" + quote(rng.choice(pids)),
    "filter/combined": lambda: "/v1/messages?limit=50&q=%s&direction=in&type=text&channel_id=%s&since=%s"
        % (w["medium"], chans[min(1, len(chans) - 1)], iso(m["end_ms"] - 30 * 86400000)),
}[kind]
with open(out, "w") as f:
    for _ in range(count):
        f.write("\t" + gen() + "\n")
EOF
}

# reads NAME: every read kind, serial then open loop, against the running server.
reads() {
    local name="$1" kind file res lines
    lines="$(python3 -c "import math; print(max($SERIAL, math.ceil($RATE * $READ_SECS)))")"
    mkdir -p "$BENCH_WORK/reads"
    for kind in $READS; do
        file="$BENCH_WORK/reads/${kind//\//-}.tsv"
        read_paths "$kind" "$lines" "$file"
        res="$(loadgen --url "$CHASQUI_URL/" --method GET --payloads "$file" -H "Authorization: Bearer $CHASQUI_KEY" \
            --rate 0 --connections 1 --count "$SERIAL" --duration "$SERIAL_SECS" --label "$kind/serial")"
        record "$(merge "$res" "run=\"$RUN_ID\"" "kind=\"read\"" "read=\"$kind\"" "load=\"serial\"" "backend=\"$BACKEND\"" \
            "stored=$MESSAGES_NOW" "rss_mb=$(rss_of "$CHASQUI_PID" VmRSS)")"
        res="$(loadgen --url "$CHASQUI_URL/" --method GET --payloads "$file" -H "Authorization: Bearer $CHASQUI_KEY" \
            --rate "$RATE" --connections "$READ_CONNS" --duration "$READ_SECS" --label "$kind/$RATE")"
        record "$(merge "$res" "run=\"$RUN_ID\"" "kind=\"read\"" "read=\"$kind\"" "load=\"$RATE\"" "backend=\"$BACKEND\"" \
            "stored=$MESSAGES_NOW" "rss_mb=$(rss_of "$CHASQUI_PID" VmRSS)")"
    done
}

# memory NAME WHEN: the server's peak and current resident memory.
memory() {
    record "{\"run\":\"$RUN_ID\",\"kind\":\"memory\",\"label\":\"memory/$1/$2\",\"backend\":\"$BACKEND\",\"stored\":$MESSAGES_NOW,\"vm_hwm_mb\":$(rss_of "$CHASQUI_PID" VmHWM),\"vm_rss_mb\":$(rss_of "$CHASQUI_PID" VmRSS)}"
}

# ingest NAME: full-speed signed webhooks into the running server; lag and counts.
ingest() {
    local name="$1" mark res check
    mark="$(python3 "$BENCH_DIR/seed_messages.py" mark --db "$CHASQUI_DB_URL")"
    res="$(loadgen --url "$CHASQUI_URL/webhooks/whatsapp" --payloads "$PAYLOADS" --duration "$BENCH_DURATION" \
        --rate 0 --connections "$BENCH_CONNS" --label "ingest/$name")"
    check="$(python3 "$BENCH_DIR/dbwait.py" inbound --db "$CHASQUI_DB_URL" --mark "$mark" \
        --expect "$(field "$res" ok)" --end-ms "$(field "$res" end_unix_ms)" || true)"
    [[ -n "$check" ]] || check='{"verified":false}'
    record "$(merge "$res" "run=\"$RUN_ID\"" "kind=\"ingest\"" "load=\"full\"" "backend=\"$BACKEND\"" \
        "stored=$MESSAGES_NOW" "check=$check" "rss_mb=$(rss_of "$CHASQUI_PID" VmHWM)")"
}

log "run $RUN_ID: $SMALL and $MESSAGES stored messages, backend $BACKEND; reads at $RATE/s for ${READ_SECS}s each"
record "$(merge "$(machine_json)" "run=\"$RUN_ID\"" "kind=\"machine\"")"

prepare small "$SMALL"
MESSAGES_NOW="$SMALL"
ingest small
finish

prepare large "$MESSAGES"
MESSAGES_NOW="$MESSAGES"
memory large started
reads large
memory large after-reads
ingest large
memory large after-ingest
finish

python3 - "$BENCH_RESULTS" "$RUN_ID" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if r.get("run") == sys.argv[2]]
m = next(r for r in rows if r.get("kind") == "machine")
f = lambda v, nd=1: "-" if v is None else (f"{v:,.{nd}f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v))
print()
print(f"run {sys.argv[2]} on {m.get('nproc')} x {m.get('cpu')}, {m.get('ram')}, commit {m.get('commit', '')[:12]}"
      + (" (dirty tree)" if m.get("dirty") else ""))
print()
print("| seeded | messages | contacts | message_events | database MB | seeding s (plan / rows / checkpoint or vacuum) |")
print("|---|---:|---:|---:|---:|---|")
for r in rows:
    if r.get("kind") == "seed":
        s = r["seconds"]
        print(f"| {r['label']} | {f(r['messages'])} | {f(r['contacts'])} | {f(r['message_events'])} | {f(r['db_bytes'] / 1e6, 0)} "
              f"| {f(r['wall_s'])} ({f(s['plan'])} / {f(s['rows'])} / {f(s['checkpoint_or_vacuum'])}) |")
words = next((r["words"] for r in rows if r.get("kind") == "seed" and r["label"] == "seed/large"), {})
if words:
    print()
    print("search words (messages containing them): " + ", ".join(f"{k} `{v['word']}` ({v['docs']:,})" for k, v in words.items()))
reads = [r for r in rows if r.get("kind") == "read"]
if reads:
    print()
    print("| read | load | ok/s | p50 ms | p99 ms | max ms | service p99 ms | missed | non-200 + errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in reads:
        print(f"| {r['read']} | {r['load']} | {f(r['rps'], 0)} | {f(r['p50_ms'], 2)} | {f(r['p99_ms'], 2)} | {f(r['max_ms'], 1)} "
              f"| {f(r['svc_p99_ms'], 2)} | {f(r['missed'])} | {f(r['non_ok'] + r['errors'])} |")
mem = [r for r in rows if r.get("kind") == "memory"]
if mem:
    print()
    print("| memory | stored messages | VmHWM MB | VmRSS MB |")
    print("|---|---:|---:|---:|")
    for r in mem:
        print(f"| {r['label']} | {f(r['stored'])} | {f(r['vm_hwm_mb'])} | {f(r['vm_rss_mb'])} |")
ing = [r for r in rows if r.get("kind") == "ingest"]
if ing:
    print()
    print("| ingest, full speed | stored before | ok/s | p50 ms | p99 ms | max ms | lag to messages ms | processed/s | verified |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in ing:
        c = r.get("check") or {}
        lag = c.get("lag_ms")
        proc = r["ok"] / (r["duration_s"] + lag / 1000) if lag is not None else None
        print(f"| {r['label']} | {f(r['stored'])} | {f(r['rps'], 0)} | {f(r['p50_ms'], 2)} | {f(r['p99_ms'], 2)} | {f(r['max_ms'], 1)} "
              f"| {f(lag)} | {f(proc, 0)} | {'yes' if c.get('verified') else 'NO ' + json.dumps(c)} |")
summary = {"run": sys.argv[2], "backend": m.get("backend") or next((r.get("backend") for r in rows if r.get("backend")), None)}
large = [r for r in reads if r["load"] != "serial"]
if large:
    summary["read_p99_ms"] = {r["read"]: r["p99_ms"] for r in large}
    summary["worst_read_p99_ms"] = max(r["p99_ms"] for r in large)
hwm = max((r["vm_hwm_mb"] for r in mem), default=None)
if hwm is not None:
    summary["vm_hwm_mb"] = hwm
if len(ing) == 2:
    summary["ingest_rps_small"], summary["ingest_rps_large"] = ing[0]["rps"], ing[1]["rps"]
    summary["ingest_large_vs_small"] = round(ing[1]["rps"] / max(1, ing[0]["rps"]), 2)
    summary["lag_ms_small"], summary["lag_ms_large"] = (r.get("check", {}).get("lag_ms") for r in ing)
summary["all_verified"] = all((r.get("check") or {}).get("verified") for r in ing)
print()
stored = max((r.get("stored", 0) for r in reads + mem), default=0)
print(f"targets (issue 6, for 1 million stored messages; this run: {stored:,}):")
if hwm is not None:
    print(f"- RSS under 150 MB: peak {hwm:,.1f} MB {'met' if hwm < 150 else 'MISSED'}")
for r in large:
    if r["read"].startswith(("conversation", "search")):
        print(f"- {r['read']} p99 under 50 ms at {r['load']}/s: {r['p99_ms']:,.2f} ms {'met' if r['p99_ms'] < 50 and not r['missed'] else 'MISSED'}"
              + (f" ({r['missed']:,} requests never sent: the server fell behind)" if r["missed"] else ""))
print()
print("BENCH_SUMMARY " + json.dumps(summary, separators=(",", ":")))
EOF
