#!/usr/bin/env bash
# Ingest benchmark: unique, signed Meta webhooks against Chasqui (durable: committed before the
# 200), the hello-world ceiling and the pywa peer, with the same payloads and load generator, in
# one run. Loads: full speed (closed loop), then fixed rates (open loop). For Chasqui it also
# measures the lag until every acknowledged webhook is a message row and checks the counts; for
# the peer it checks its stored count.
#
#   bench/ingest.sh [TARGET…]        TARGET: hello chasqui peer (default: all three), and
#                                    chasqui-pg (Chasqui on PostgreSQL at BENCH_PG_URL, e.g. from
#                                    bench/pg.sh start) to compare both backends in one run
#
# Settings (environment): BENCH_DURATION (s, 10), BENCH_RATES ("1000 5000 10000"), BENCH_CONNS
# (closed loop, 32), BENCH_OPEN_CONNS (open loop, 128), BENCH_PAYLOADS (300000),
# BENCH_DATABASE_URL (postgres://… server for Chasqui; default SQLite), BENCH_WRK=1 (also a
# wrk + post.lua full-speed run per target), BENCH_CHASQUI_ENV ("K=V …" extra server settings).
# Output: one `BENCH {json}` line per run, then a table (bench/report.py).

source "$(dirname "$0")/lib.sh"
need_bins

TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(hello chasqui peer)
RATES="${BENCH_RATES-1000 5000 10000}"
OPEN_CONNS="${BENCH_OPEN_CONNS:-128}"
PAYLOAD_COUNT="${BENCH_PAYLOADS:-300000}"
BACKEND=sqlite
[[ -n "$BENCH_DATABASE_URL" ]] && BACKEND=postgres
RUN_ID="ingest-$(date +%Y%m%dT%H%M%S)"
read -r -a CHASQUI_ENV <<<"${BENCH_CHASQUI_ENV:-}"
PAYLOADS="$(ensure_payloads "$PAYLOAD_COUNT")"
CLK_TCK="$(getconf CLK_TCK)"

if [[ " ${TARGETS[*]} " == *" peer "* ]] && ! peer_available; then
    log "peer not runnable (need $BENCH_PEER_DIR/peer_app.py and pywa, fastapi, uvicorn in $BENCH_PEER_PY; see bench/README.md): skipping it"
    TARGETS=("${TARGETS[@]/peer/}")
fi

cpu_secs() { awk -v t="$CLK_TCK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }

# load_args LOAD: the load generator's arguments for "full" or a rate.
load_args() {
    if [[ "$1" == full ]]; then
        echo "--rate 0 --connections $BENCH_CONNS"
    else
        echo "--rate $1 --connections $OPEN_CONNS"
    fi
}

# wrk_json URL LABEL: a wrk + post.lua full-speed run, as our JSON fields.
wrk_json() {
    local out
    out="$(cd "$BENCH_WORK" && wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_DURATION}s" --latency -s "$BENCH_PEER_DIR/post.lua" "$1")"
    python3 - "$2" "$out" <<'EOF'
import json, re, sys, time
label, out = sys.argv[1], sys.argv[2]
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
lat = {p: ms(v, u) for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)}
m = re.search(r"(\d+) requests in ([\d.]+)(s|m)", out)
reqs, secs = int(m.group(1)), float(m.group(2)) * (60 if m.group(3) == "m" else 1)
non2 = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
non2 = int(non2.group(1)) if non2 else 0
err = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
errors = sum(map(int, err.groups())) if err else 0
mx = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)", out)
print(json.dumps({"label": label, "tool": "wrk", "mode": "closed", "target_rate": 0, "sent": reqs, "ok": reqs - non2,
                  "non_ok": non2, "errors": errors, "duration_s": secs, "rps": round((reqs - non2) / secs),
                  "p50_ms": lat.get("50"), "p90_ms": lat.get("90"), "p99_ms": lat.get("99"),
                  "max_ms": ms(*mx.groups()) if mx else None, "end_unix_ms": int(time.time() * 1000)}))
EOF
}

# one TARGET LOAD [TOOL]: one bounded run against a fresh server; records its line.
one() {
    local target="$1" load="$2" tool="${3:-loadgen}" url pid res extra=() label
    label="$target/$load"
    [[ "$tool" == wrk ]] && label="$label/wrk"
    case "$target" in
        hello)
            start_hello
            pid="$HELLO_PID"
            url="http://127.0.0.1:$BENCH_PORT_HELLO/"
            ;;
        chasqui)
            start_chasqui "chasqui-$BACKEND-$load-$tool" "${CHASQUI_ENV[@]}"
            pid="$CHASQUI_PID"
            url="$CHASQUI_URL/webhooks/whatsapp"
            ;;
        chasqui-pg)
            [[ -n "${BENCH_PG_URL:-}" ]] || die "chasqui-pg needs BENCH_PG_URL (bench/pg.sh start prints one)"
            CHASQUI_DB_SERVER="$BENCH_PG_URL" start_chasqui "chasqui-postgres-$load-$tool" "${CHASQUI_ENV[@]}"
            pid="$CHASQUI_PID"
            url="$CHASQUI_URL/webhooks/whatsapp"
            ;;
        peer)
            start_peer "peer-$load-$tool"
            pid="$PEER_PID"
            url="http://127.0.0.1:$BENCH_PORT_PEER/"
            ;;
    esac
    local cpu0 cpu1
    cpu0="$(cpu_secs "$pid")"
    if [[ "$tool" == wrk ]]; then
        res="$(wrk_json "$url" "$label")"
    else
        # shellcheck disable=SC2046
        res="$(loadgen --url "$url" --payloads "$PAYLOADS" --duration "$BENCH_DURATION" --label "$label" $(load_args "$load"))"
    fi
    cpu1="$(cpu_secs "$pid")"
    local backend="$BACKEND"
    [[ "$target" == chasqui-pg ]] && backend=postgres
    extra+=("target=\"$target\"" "load=\"$load\"" "run=\"$RUN_ID\"" "backend=\"$backend\"" "tool=\"$tool\"")
    extra+=("server_cpu_s=$(python3 -c "print(round($cpu1 - $cpu0, 2))")")
    local ok end
    ok="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ok"])' "$res")"
    end="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["end_unix_ms"])' "$res")"
    case "$target" in
        chasqui | chasqui-pg)
            local check slack=0
            # wrk stops with requests in flight: the server may have stored and answered them
            # without wrk counting the 200, so with wrk up to one per connection may be extra.
            [[ "$tool" == wrk ]] && slack="$BENCH_CONNS"
            check="$(python3 "$BENCH_DIR/dbwait.py" inbound --db "$CHASQUI_DB_URL" --expect "$ok" --slack "$slack" --end-ms "$end" || true)"
            [[ -n "$check" ]] || check='{"verified":false}'
            extra+=("check=$check" "rss_mb=$(rss_mb "$pid")")
            ;;
        peer)
            # pywa may run the handler just after answering: wait for the count to settle.
            local stored prev=-1 i slack=0
            [[ "$tool" == wrk ]] && slack="$BENCH_CONNS"
            for ((i = 0; i < 50; i++)); do
                stored="$(curl -fsS "http://127.0.0.1:$BENCH_PORT_PEER/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored"])')"
                ((stored >= ok)) && break
                ((stored == prev)) && ((i > 10)) && break
                prev="$stored"
                sleep 0.1
            done
            extra+=("check={\"stored\":$stored,\"verified\":$( ((stored >= ok && stored <= ok + slack)) && echo true || echo false)}" "rss_mb=$(rss_mb "$pid")")
            ;;
        hello)
            extra+=("rss_mb=$(rss_mb "$pid")")
            ;;
    esac
    stop "$pid"
    if [[ "$target" == chasqui* && "$CHASQUI_DB_URL" == postgres* ]]; then
        psql "${CHASQUI_DB_URL%/*}/postgres" -qAtc "DROP DATABASE IF EXISTS ${CHASQUI_DB_URL##*/}" >/dev/null 2>&1 || true
    fi
    record "$(merge "$res" "${extra[@]}")"
}

log "run $RUN_ID: targets ${TARGETS[*]}; loads full $RATES; ${BENCH_DURATION}s each; backend $BACKEND"
record "$(merge "$(machine_json)" "run=\"$RUN_ID\"" "kind=\"machine\"")"
for load in full $RATES; do
    for target in "${TARGETS[@]}"; do
        [[ -n "$target" ]] || continue
        one "$target" "$load"
    done
done
if [[ "${BENCH_WRK:-0}" == 1 ]] && command -v wrk >/dev/null && [[ -f "$BENCH_PEER_DIR/post.lua" ]]; then
    [[ "$PAYLOADS" == "$BENCH_WORK/payloads.tsv" ]] || die "wrk reads payloads.tsv in $BENCH_WORK"
    for target in "${TARGETS[@]}"; do
        [[ -n "$target" ]] || continue
        one "$target" full wrk
    done
fi
python3 "$BENCH_DIR/report.py" "$BENCH_RESULTS" "$RUN_ID"
