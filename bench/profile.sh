#!/usr/bin/env bash
# Where Chasqui's ingest time goes, on SQLite. Three views:
#
#   bench/profile.sh syscalls [on|off]   strace -c over N webhooks at full speed, workers on (ingest
#                                        and processing) or off (ingest only), until processed;
#                                        prints system calls per webhook (fsync, the busy-handler
#                                        sleeps clock_nanosleep, page reads/writes)
#   bench/profile.sh perf [on|off]       perf record (cpu-clock; hardware counters are not needed)
#                                        over the same run; prints the top symbols and the CPU
#                                        time used against the wall time
#   bench/profile.sh claim               the job-claim statement's plan and cost as the backlog of
#                                        ready jobs grows (copied rows in a scratch database)
#   bench/profile.sh send                perf record attached to Chasqui during outbound.sh's
#                                        full-speed acceptance run (POST /v1/messages, workers off)
#
# Settings: BENCH_PROFILE_COUNT (webhooks, 3000), BENCH_CONNS (32). Needs strace / perf
# (Debian: strace, linux-perf). Output files stay in $BENCH_WORK/profile-*.

source "$(dirname "$0")/lib.sh"
need_bins
MODE="${1:-syscalls}"
WORKERS="${2:-on}"
N="${BENCH_PROFILE_COUNT:-3000}"
OUT="$BENCH_WORK/profile-$MODE-$WORKERS"
rm -rf "$OUT"
mkdir -p "$OUT"

# run_wrapped WRAPPER…: Chasqui under WRAPPER, N webhooks, wait until processed, stop it.
run_wrapped() {
    local payloads
    payloads="$(ensure_payloads "$N")"
    CHASQUI_DATA="$OUT/data"
    mkdir -p "$CHASQUI_DATA"
    local key
    key="$(CHASQUI_DATA_DIR="$CHASQUI_DATA" "$CHASQUI" tenant create profile --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
    local workers=true
    [[ "$WORKERS" == off ]] && workers=false
    env CHASQUI_DATA_DIR="$CHASQUI_DATA" CHASQUI_LISTEN="127.0.0.1:$BENCH_PORT_CHASQUI" CHASQUI_META_APP_SECRET="$BENCH_SECRET" \
        CHASQUI_LOG=warn CHASQUI_WORKERS_ENABLED=$workers "$@" "$CHASQUI" serve >"$OUT/serve.log" 2>&1 &
    local wrapper=$!
    BENCH_PIDS+=("$wrapper")
    local url="http://127.0.0.1:$BENCH_PORT_CHASQUI"
    wait_http "$url/readyz" 60
    curl -fsS -o /dev/null -X POST "$url/v1/channels" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -d "{\"kind\":\"whatsapp_cloud\",\"phone_number_id\":\"$BENCH_PNID\",\"access_token\":\"x\"}"
    local server
    server="$(pgrep -P "$wrapper" -n || echo "$wrapper")"
    local t0 c0
    t0="$(date +%s.%N)"
    c0="$(awk '{print $14 + $15}' "/proc/$server/stat")"
    local res
    res="$(loadgen --url "$url/webhooks/whatsapp" --payloads "$payloads" --count "$N" --duration 300 --connections "$BENCH_CONNS" --label profile)"
    echo "load: $res" | cut -c1-400
    if [[ "$WORKERS" == on ]]; then
        python3 "$BENCH_DIR/dbwait.py" inbound --db "sqlite://$CHASQUI_DATA/chasqui.db" --expect "$N" \
            --end-ms "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["end_unix_ms"])' "$res")" || true
    fi
    local c1 t1
    c1="$(awk '{print $14 + $15}' "/proc/$server/stat")"
    t1="$(date +%s.%N)"
    python3 -c "import sys; w=$t1-$t0; c=($c1-$c0)/$(getconf CLK_TCK); print(f'wall {w:.1f} s, server CPU {c:.1f} s ({c / w * 100:.0f} % of one core, machine has $(nproc))')"
    kill -INT "$server" 2>/dev/null || true
    wait "$wrapper" 2>/dev/null || true
}

case "$MODE" in
    syscalls)
        command -v strace >/dev/null || die "strace is not installed (apt-get install strace)"
        run_wrapped strace -f -c -o "$OUT/strace.txt"
        python3 - "$OUT/strace.txt" "$N" <<'EOF'
import sys
n = int(sys.argv[2])
print(f"system calls per webhook ({n} webhooks, startup included):")
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) >= 5 and p[-1] in ("fsync", "fdatasync", "clock_nanosleep", "nanosleep", "pread64", "pwrite64", "futex", "fcntl", "getrandom"):
        calls, secs = int(p[3]), float(p[1])
        print(f"  {p[-1]:16} {calls / n:8.2f} calls   {secs / n * 1000:8.3f} ms in the call (strace-inflated)")
EOF
        ;;
    perf)
        command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
        run_wrapped perf record -F 999 -e cpu-clock -g -o "$OUT/perf.data"
        perf report -i "$OUT/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -6
        perf report -i "$OUT/perf.data" --no-children --sort sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -30
        ;;
    claim)
        python3 - "$OUT" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1] + "/claim.db")
# The jobs table and indexes of crates/chasqui-store/migrations/sqlite/0001_foundation.sql (the
# columns the claim reads).
db.executescript("""
CREATE TABLE jobs (id TEXT PRIMARY KEY, tenant_id TEXT, queue TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
  state TEXT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, run_at INTEGER NOT NULL,
  lease_token TEXT, lease_until INTEGER, last_error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX jobs_due ON jobs(queue, run_at) WHERE state = 'ready';
CREATE INDEX jobs_leased ON jobs(lease_until) WHERE state = 'running';
""")
claim = ("SELECT id FROM jobs WHERE queue = 'default' AND ((state = 'ready' AND run_at <= ?1) OR "
         "(state = 'running' AND lease_until < ?1)) ORDER BY run_at LIMIT 4")
ready_only = "SELECT id FROM jobs WHERE queue = 'default' AND state = 'ready' AND run_at <= ?1 ORDER BY run_at LIMIT 4"
print("plan of the claim's inner SELECT (crates/chasqui-store/src/jobs.rs, claim_jobs):")
for r in db.execute("EXPLAIN QUERY PLAN " + claim, (10**15,)):
    print("   ", r[-1])
print("plan with the 'ready' branch alone:")
for r in db.execute("EXPLAIN QUERY PLAN " + ready_only, (10**15,)):
    print("   ", r[-1])
have = 0
print("ready jobs | claim as written, ms | 'ready' branch alone, ms")
for target in (1000, 10000, 50000, 100000):
    db.executemany("INSERT INTO jobs VALUES (?, NULL, 'default', 'webhook.process', '{}', 'ready', 0, 8, ?, NULL, NULL, NULL, 0, 0)",
                   ((f"job{i:09d}", 1_700_000_000_000 + i) for i in range(have, target)))
    db.commit()
    have = target
    out = []
    for q in (claim, ready_only):
        t = time.perf_counter()
        for _ in range(20):
            db.execute(q, (10**15,)).fetchall()
        out.append((time.perf_counter() - t) / 20 * 1000)
    print(f"{target:>10} | {out[0]:>20.3f} | {out[1]:>24.3f}")
EOF
        ;;
    send)
        command -v perf >/dev/null || die "perf is not installed (apt-get install linux-perf)"
        BENCH_NUMBERS=500 BENCH_E2E_RATE=100 BENCH_ACCEPT_RATES="" BENCH_RESULTS="$OUT/results.jsonl" \
            "$BENCH_DIR/outbound.sh" >"$OUT/outbound.log" 2>&1 &
        runner=$!
        # The acceptance server is the second Chasqui outbound.sh starts; attach once it listens.
        for ((i = 0; i < 1200; i++)); do
            grep -q "acceptance, workers off" "$OUT/outbound.log" 2>/dev/null && break
            sleep 0.1
        done
        server=""
        for ((i = 0; i < 200; i++)); do
            server="$(ss -ltnpH "sport = :$BENCH_PORT_CHASQUI" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
            [[ -n "$server" ]] && break
            sleep 0.05
        done
        [[ -n "$server" ]] || die "the acceptance server did not start; see $OUT/outbound.log"
        perf record -F 999 -e cpu-clock -g -p "$server" -o "$OUT/perf.data" -- sleep "$((BENCH_DURATION - 1))" 2>/dev/null
        wait "$runner" || true
        grep -E "accept-full|^\| outbound" "$OUT/outbound.log" | grep -v '^BENCH' || true
        perf report -i "$OUT/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -6
        perf report -i "$OUT/perf.data" --no-children --sort sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
        ;;
    *) die "usage: bench/profile.sh syscalls|perf [on|off] | claim | send" ;;
esac
