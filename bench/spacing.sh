#!/usr/bin/env bash
# Per-number spacing: does each sending number leave at its configured throughput
# (`settings.throughput_per_second`), never above it, when a backlog is waiting?
#
#  1. One Chasqui (fresh database), one WhatsApp Cloud channel per sending number, each with its
#     own phone_number_id, its `base_url` at the Graph imitation (`bench-hello --graph`) and its
#     rate in `settings.throughput_per_second`.
#  2. Customers write to every number first (signed webhooks batched 50 messages each, today's
#     timestamp), opening the 24-hour windows. No customer gets more than 4 sends from a number,
#     so the pair rate (a burst of 5, then one per 6 s) never holds a send back.
#  3. Each run: its sends are queued with the workers off (`POST /v1/messages`; every 202 checked
#     to be a queued row), interleaved by each send's ideal time (i / rate) so that claiming in
#     queue order feeds every number of the run; then the workers are turned on and the backlog
#     drains.
#  4. The imitation keeps the arrival time of every request per phone_number_id
#     (`GET /arrivals`). Per number: the achieved rate over the steady part (the middle 90 % of
#     its arrivals, (n - 1) / span) and over all of them; the most arrivals in any 1-second
#     window [t, t + 1 s), which must not exceed the rate, and in any 100 ms window; the
#     inter-arrival p1/p50/p99; the time lost in gaps longer than twice the ideal one; and the
#     deviation from the rate. Every 202 must end `sent` and reach the imitation exactly once.
#  5. Control: bench-loadgen's open loop (request i due at start + i / rate) straight into the
#     imitation at each rate, analysed the same way. It shows how exactly a paced client can
#     look through this measuring chain (loopback, tokio's millisecond timer, the imitation's
#     clock) on this machine.
#
#   bench/spacing.sh
#
# Settings:
#   BENCH_SPACING_RUNS   runs one after the other, space-separated. A run is numbers joined by
#                        `+`, each RATExSECONDS[*COPIES]: COPIES numbers (1) at RATE/s, each with
#                        RATE × SECONDS sends. Default "80x30 80x30*4+1000x10 1000x10": one
#                        number at 80/s (2,400 sends) alone; four at 80/s with one at 1,000/s
#                        (10,000 sends) at the same time; one at 1,000/s alone.
#   BENCH_SPACING_CONTROL_SECS  seconds of the control pass per rate (10; 0: none).
#   BENCH_CONNS (32, connections that queue the sends), BENCH_CHASQUI_ENV (e.g.
#   CHASQUI_WORKERS_CONCURRENCY=32), BENCH_DATABASE_URL, BENCH_BIN_DIR, BENCH_WORK,
#   BENCH_PORT_CHASQUI, BENCH_PORT_GRAPH (see bench/README.md).

source "$(dirname "$0")/lib.sh"
need_bins

RUNS="${BENCH_SPACING_RUNS-80x30 80x30*4+1000x10 1000x10}"
CONTROL_SECS="${BENCH_SPACING_CONTROL_SECS:-10}"
BACKEND=sqlite
[[ -n "$BENCH_DATABASE_URL" ]] && BACKEND=postgres
RUN_ID="spacing-$(date +%Y%m%dT%H%M%S)"
SPEC="$BENCH_WORK/spacing-spec.json"
ANALYZE="$BENCH_WORK/spacing_analyze.py"
CLK_TCK="$(getconf CLK_TCK)"
cpu_secs() { awk -v t="$CLK_TCK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
read -r -a EXTRA_ENV <<<"${BENCH_CHASQUI_ENV:-}"
started_at="$(date +%s)"

# The plan: every run's numbers, each with a phone_number_id, its rate, sends and customers.
python3 - "$RUNS" "$SPEC" <<'EOF'
import json, math, re, sys
runs = []
for r, text in enumerate(sys.argv[1].split()):
    numbers = []
    for item in text.split("+"):
        m = re.fullmatch(r"(\d+)x(\d+(?:\.\d+)?)(?:\*(\d+))?", item)
        if not m:
            sys.exit(f"BENCH_SPACING_RUNS: `{item}` is not RATExSECONDS[*COPIES]")
        rate, secs, copies = int(m[1]), float(m[2]), int(m[3] or 1)
        if not 1 <= rate <= 1000:
            sys.exit(f"BENCH_SPACING_RUNS: {rate}/s is outside 1..1000, the range of throughput_per_second (Meta's)")
        for _ in range(copies):
            sends = max(2, round(rate * secs))
            numbers.append({"pnid": "2%02d%010d" % (r, len(numbers) + 1), "rate": rate, "sends": sends,
                            "customers": math.ceil(sends / 4)})
    runs.append({"name": text, "numbers": numbers})
json.dump(runs, open(sys.argv[2], "w"))
EOF

# The analysis of one pass: ANALYZE CONTEXT_JSON ARRIVALS_FILE prints one JSON row per number.
# CONTEXT: {"numbers": [{pnid, rate, sends}], "fields": {...copied into every row},
#           "before": /stats?detail=1, "after": /stats?detail=1, "check": dbwait's answer}.
cat >"$ANALYZE" <<'EOF'
import json, sys
ctx = json.loads(sys.argv[1])
arrivals = json.load(open(sys.argv[2]))["numbers"]
NS = 1_000_000_000

def pct(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else None

def windows(t, width):
    """For every arrival, how many arrivals fall in [t_i, t_i + width)."""
    out, j = [], 0
    for i in range(len(t)):
        while j < len(t) and t[j] < t[i] + width:
            j += 1
        out.append(j - i)
    return out

starts = [min(v) for v in arrivals.values() if v]
origin = min(starts) if starts else 0
check = ctx.get("check", {})
for num in ctx["numbers"]:
    t = sorted(arrivals.get(num["pnid"], []))
    n, rate = len(t), num["rate"]
    got = ctx["after"].get("numbers", {}).get(num["pnid"], 0) - ctx["before"].get("numbers", {}).get(num["pnid"], 0)
    row = dict(ctx["fields"])
    row.update({"label": f"{row.get('label_prefix', 'spacing')}/{row['phase']}/{num['pnid']}", "phone_number_id": num["pnid"],
                "configured_rate": rate, "queued": num["sends"], "arrived": n, "ok": n, "requests_at_imitation": got})
    row.pop("label_prefix", None)
    if n >= 2:
        ideal = NS / rate
        gaps = [b - a for a, b in zip(t, t[1:])]
        sgaps = sorted(gaps)
        lo, hi = int(0.05 * (n - 1)), int(0.95 * (n - 1))
        steady = (hi - lo) / ((t[hi] - t[lo]) / NS) if t[hi] > t[lo] else None
        overall = (n - 1) / ((t[-1] - t[0]) / NS) if t[-1] > t[0] else None
        w1 = windows(t, NS)
        ms = lambda v: round(v / 1e6, 3)
        row.update({
            "first_s": round((t[0] - origin) / NS, 3), "last_s": round((t[-1] - origin) / NS, 3),
            "span_s": round((t[-1] - t[0]) / NS, 3),
            "rate_steady": round(steady, 2) if steady else None, "rate_overall": round(overall, 2) if overall else None,
            "deviation_pct": round((steady - rate) / rate * 100, 2) if steady else None,
            "max_1s": max(w1), "windows_1s_over_rate": sum(c > rate for c in w1),
            "max_100ms": max(windows(t, NS // 10)),
            "ideal_gap_ms": ms(ideal), "gap_min_ms": ms(sgaps[0]), "gap_p1_ms": ms(pct(sgaps, 0.01)),
            "gap_p50_ms": ms(pct(sgaps, 0.5)), "gap_p99_ms": ms(pct(sgaps, 0.99)), "gap_max_ms": ms(sgaps[-1]),
            "gaps_under_half_ideal": sum(g < ideal / 2 for g in gaps),
            "stalled_s": round(sum(g - ideal for g in gaps if g > 2 * ideal) / NS, 3),
        })
        row["never_above"] = row["max_1s"] <= rate
        # Only a number that sent everything has a rate to judge.
        row["within_1pct"] = n == num["sends"] and steady is not None and abs(steady - rate) <= 0.01 * rate
    row["none_lost"] = n == num["sends"] and got == num["sends"] and bool(check.get("verified"))
    row["check"] = check
    print(json.dumps(row, separators=(",", ":")))
EOF

# gen openers FILE | gen sends RUN FILE: payload files for bench-loadgen.
gen() {
    python3 - "$SPEC" "$@" <<'EOF'
import hashlib, hmac, json, os, sys, time
spec = json.load(open(sys.argv[1]))
what = sys.argv[2]
secret = os.environ["BENCH_SECRET"].encode()
customer = lambda i: "549112%07d" % i  # WhatsApp's form of an Argentine mobile (549 11 …)
if what == "openers":
    now, n, lines = str(int(time.time())), 0, []
    for run in spec:
        for num in run["numbers"]:
            for start in range(0, num["customers"], 50):
                ids = range(start, min(num["customers"], start + 50))
                value = {"messaging_product": "whatsapp",
                         "metadata": {"display_phone_number": "1555" + num["pnid"][-7:], "phone_number_id": num["pnid"]},
                         "contacts": [{"profile": {"name": "Bench Customer"}, "wa_id": customer(i)} for i in ids],
                         "messages": [{"from": customer(i), "id": "wamid.SPACEOPEN%s_%07d" % (num["pnid"], i),
                                       "timestamp": now, "type": "text", "text": {"body": "hola"}} for i in ids]}
                body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
                                   "changes": [{"field": "messages", "value": value}]}]}, separators=(",", ":")).encode()
                sig = hmac.new(secret, body, hashlib.sha256).hexdigest().encode()
                lines.append(b"sha256=" + sig + b"\t" + body + b"\n")
                n += len(ids)
    open(sys.argv[3], "wb").writelines(lines)
    print(n)
else:
    run, out = spec[int(sys.argv[3])], sys.argv[4]
    # Interleaved by each send's ideal time (i / rate), so the queue order feeds every number.
    due = []
    for num in run["numbers"]:
        for i in range(num["sends"]):
            body = {"channel_id": num["channel_id"], "to": "+" + customer(i % num["customers"]),
                    "type": "text", "text": {"body": "spacing %s %d" % (num["pnid"], i)}}
            due.append((i / num["rate"], num["pnid"], b"\t" + json.dumps(body, separators=(",", ":")).encode() + b"\n"))
    due.sort(key=lambda d: (d[0], d[1]))
    open(out, "wb").writelines(d[2] for d in due)
    print(len(due))
EOF
}

ROWS=()
# analyze CONTEXT_JSON ARRIVALS_FILE: records every row.
analyze() {
    local out line
    out="$(python3 "$ANALYZE" "$1" "$2")" || die "the analysis failed"
    while IFS= read -r line; do
        [[ -n "$line" ]] || continue
        record "$line"
        ROWS+=("$line")
    done <<<"$out"
}

record "$(merge "$(machine_json)" "run=\"$RUN_ID\"" "kind=\"machine\"")"
start_graph
GRAPH_URL="http://127.0.0.1:$BENCH_PORT_GRAPH"
export BENCH_CHANNEL_SETTINGS="{\"base_url\":\"$GRAPH_URL\"}"
SERVER_ENV=(CHASQUI_ALLOW_PRIVATE_WEBHOOK_URLS=true "${EXTRA_ENV[@]}")
start_chasqui "spacing-$BACKEND" "${SERVER_ENV[@]}"
DATA="$CHASQUI_DATA" DB_URL="$CHASQUI_DB_URL" KEY="$CHASQUI_KEY"

# serve true|false: Chasqui again on the same data, with its workers on or off.
serve() {
    stop "$CHASQUI_PID"
    env CHASQUI_DATA_DIR="$DATA" CHASQUI_DATABASE_URL="$DB_URL" CHASQUI_LISTEN="127.0.0.1:$BENCH_PORT_CHASQUI" \
        CHASQUI_META_APP_SECRET="$BENCH_SECRET" CHASQUI_LOG="${BENCH_CHASQUI_LOG:-warn}" CHASQUI_WORKERS_ENABLED="$1" \
        "${SERVER_ENV[@]}" "$CHASQUI" serve >>"$DATA/serve.log" 2>&1 &
    CHASQUI_PID=$!
    BENCH_PIDS+=("$CHASQUI_PID")
    wait_http "$CHASQUI_URL/readyz"
}

count_sql() {
    PYTHONDONTWRITEBYTECODE=1 python3 - "$DB_URL" "$BENCH_DIR" "$1" <<'EOF'
import sys
sys.path.insert(0, sys.argv[2])
from dbwait import Db
print(Db(sys.argv[1]).one(sys.argv[3]))
EOF
}

# One channel per number, at its rate; the channel ids go into the plan.
python3 -c '
import json, sys
for r, run in enumerate(json.load(open(sys.argv[1]))):
    for k, num in enumerate(run["numbers"]):
        print(r, k, num["pnid"], num["rate"], sep="\t")' "$SPEC" >"$BENCH_WORK/spacing-channels.tsv"
while IFS=$'\t' read -r r k pnid rate; do
    id="$(curl -fsS -X POST "$CHASQUI_URL/v1/channels" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
        -d "{\"kind\":\"whatsapp_cloud\",\"name\":\"spacing $pnid\",\"phone_number_id\":\"$pnid\",\"access_token\":\"bench-token\",\"settings\":{\"base_url\":\"$GRAPH_URL\",\"throughput_per_second\":$rate}}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" || die "creating the channel for $pnid failed; see $DATA/serve.log"
    python3 -c '
import json, sys
spec = json.load(open(sys.argv[1]))
spec[int(sys.argv[2])]["numbers"][int(sys.argv[3])]["channel_id"] = sys.argv[4]
json.dump(spec, open(sys.argv[1], "w"))' "$SPEC" "$r" "$k" "$id"
done <"$BENCH_WORK/spacing-channels.tsv"

OPENERS="$BENCH_WORK/spacing-openers.tsv"
opened="$(gen openers "$OPENERS")"
log "opening $opened windows ($(wc -l <"$OPENERS") batched webhooks)"
res="$(loadgen --url "$CHASQUI_URL/webhooks/whatsapp" --payloads "$OPENERS" --duration 300 --connections 4 --label spacing/openers)"
(($(field "$res" ok) == $(wc -l <"$OPENERS"))) || die "not every opening webhook was acknowledged: $res"
for ((i = 0; i < 6000; i++)); do
    (($(count_sql "SELECT count(*) FROM messages WHERE direction = 'in'") >= opened)) && break
    sleep 0.05
done
(($(count_sql "SELECT count(*) FROM messages WHERE direction = 'in'") >= opened)) || die "the opening webhooks did not all become messages within 300 s"

queued_total=0
nruns="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$SPEC")"
for ((r = 0; r < nruns; r++)); do
    name="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[int(sys.argv[2])]["name"])' "$SPEC" "$r")"
    SENDFILE="$BENCH_WORK/spacing-sends-$r.tsv"
    nsends="$(gen sends "$r" "$SENDFILE")"
    log "run $((r + 1))/$nruns ($name): queueing $nsends sends, workers off"
    serve false
    res="$(loadgen --url "$CHASQUI_URL/v1/messages" --payloads "$SENDFILE" --expect 202 -H "Authorization: Bearer $KEY" \
        --duration 600 --connections "$BENCH_CONNS" --label "spacing/queue-$r")"
    (($(field "$res" ok) == nsends)) || die "only $(field "$res" ok) of $nsends sends were accepted: $res"
    queued_total=$((queued_total + nsends))
    rows="$(count_sql "SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'queued'")"
    ((rows == nsends)) || die "$rows queued rows for $nsends accepted sends"
    log "run $((r + 1))/$nruns ($name): draining with workers on"
    curl -fsS -X DELETE "$GRAPH_URL/arrivals" >/dev/null
    before="$(curl -fsS "$GRAPH_URL/stats?detail=1")"
    serve true
    c0="$(cpu_secs "$CHASQUI_PID")"
    t0="$(date +%s%3N)"
    check="$(python3 "$BENCH_DIR/dbwait.py" sent --db "$DB_URL" --expect "$queued_total" --end-ms "$t0" --stall-secs 60 || true)"
    c1="$(cpu_secs "$CHASQUI_PID")"
    [[ -n "$check" ]] || check='{"verified":false}'
    # How the send jobs ended while draining (done, deferred by a rate limit, retried…); a job
    # completes just after its message is marked sent, so give the last ones a moment.
    sleep 1
    outcomes="$(curl -fsS "$CHASQUI_URL/metrics" 2>/dev/null | python3 -c '
import json, re, sys
out = {}
for line in sys.stdin:
    m = re.match(r"chasqui_jobs_total\{(.*)\} ([0-9.e+]+)$", line.strip())
    if m and "kind=\"message.send\"" in m[1]:
        o = re.search(r"outcome=\"([^\"]+)\"", m[1])
        out[o[1] if o else "?"] = int(float(m[2]))
print(json.dumps(out))' || echo '{}')"
    ARR="$BENCH_WORK/spacing-arrivals-$r.json"
    curl -fsS "$GRAPH_URL/arrivals" >"$ARR"
    after="$(curl -fsS "$GRAPH_URL/stats?detail=1")"
    ctx="$(python3 -c '
import json, sys
spec, r = json.load(open(sys.argv[1])), int(sys.argv[2])
print(json.dumps({"numbers": spec[r]["numbers"], "before": json.loads(sys.argv[3]), "after": json.loads(sys.argv[4]),
                  "check": json.loads(sys.argv[5]),
                  "fields": {"run": sys.argv[6], "kind": "spacing", "label_prefix": "spacing", "backend": sys.argv[7],
                             "phase": spec[r]["name"], "drain_server_cpu_s": float(sys.argv[8]),
                             "send_jobs": json.loads(sys.argv[9]), "server_env": sys.argv[10]}}))' \
        "$SPEC" "$r" "$before" "$after" "$check" "$RUN_ID" "$BACKEND" "$(python3 -c "print(round($c1 - $c0, 2))")" \
        "$outcomes" "${BENCH_CHASQUI_ENV:-}")"
    analyze "$ctx" "$ARR"
    if [[ "$(field "$check" verified)" != True ]]; then
        log "run $((r + 1))/$nruns ($name) did not drain (no progress for 60 s): its sends are still queued, so the later runs are skipped"
        break
    fi
done
stop "$CHASQUI_PID"
if [[ "$DB_URL" == postgres* ]]; then
    psql "${DB_URL%/*}/postgres" -qAtc "DROP DATABASE IF EXISTS ${DB_URL##*/}" >/dev/null 2>&1 || true
fi

# Control: a paced client straight into the imitation, at each rate of the runs.
if [[ "$CONTROL_SECS" != 0 ]]; then
    for rate in $(python3 -c 'import json,sys; print(*sorted({n["rate"] for r in json.load(open(sys.argv[1])) for n in r["numbers"]}))' "$SPEC"); do
        pnid="$(printf '9%012d' "$rate")"
        n="$(python3 -c "print(max(2, round($rate * $CONTROL_SECS)))")"
        CTRL="$BENCH_WORK/spacing-control-$rate.tsv"
        python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write("\t{\"messaging_product\":\"whatsapp\",\"to\":\"5491120000000\",\"type\":\"text\",\"text\":{\"body\":\"control %d\"}}\n" % i)' "$CTRL" "$n"
        log "control: bench-loadgen at $rate/s straight into the imitation for ${CONTROL_SECS}s"
        curl -fsS -X DELETE "$GRAPH_URL/arrivals" >/dev/null
        before="$(curl -fsS "$GRAPH_URL/stats?detail=1")"
        res="$(loadgen --url "$GRAPH_URL/v23.0/$pnid/messages" --payloads "$CTRL" --rate "$rate" \
            --duration "$((CONTROL_SECS + 5))" --connections 8 --label "spacing/control-$rate")"
        after="$(curl -fsS "$GRAPH_URL/stats?detail=1")"
        ARR="$BENCH_WORK/spacing-arrivals-control-$rate.json"
        curl -fsS "$GRAPH_URL/arrivals" >"$ARR"
        ctx="$(python3 -c '
import json, sys
print(json.dumps({"numbers": [{"pnid": sys.argv[1], "rate": int(sys.argv[2]), "sends": int(sys.argv[3])}],
                  "before": json.loads(sys.argv[4]), "after": json.loads(sys.argv[5]),
                  "check": {"verified": json.loads(sys.argv[6])["ok"] == int(sys.argv[3])},
                  "fields": {"run": sys.argv[7], "kind": "spacing-control", "label_prefix": "spacing-control",
                             "phase": "control (bench-loadgen)", "backend": "-"}}))' \
            "$pnid" "$rate" "$n" "$before" "$after" "$res" "$RUN_ID")"
        analyze "$ctx" "$ARR"
    done
fi

printf '%s\n' "${ROWS[@]}" >"$BENCH_WORK/spacing-rows.jsonl"
python3 - "$BENCH_WORK/spacing-rows.jsonl" "$(($(date +%s) - started_at))" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def f(v, d=1):
    return "–" if v is None else f"{v:,.{d}f}"
print()
print("| run | number | rate /s | sends | arrived | steady /s | overall /s | deviation | max in 1 s | 1-s windows over rate | max in 100 ms | gap p1 / p50 / p99 ms | stalled s | every 202 sent once |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
for r in rows:
    g = r.get
    gaps = " / ".join(f(g(k), 2) for k in ("gap_p1_ms", "gap_p50_ms", "gap_p99_ms"))
    print(f"| {r['phase']} | {r['phone_number_id']} | {r['configured_rate']:,} | {r['queued']:,} | {r['arrived']:,} | "
          f"{f(g('rate_steady'), 2)} | {f(g('rate_overall'), 2)} | {f(g('deviation_pct'), 2)} % | {g('max_1s', '–')} | "
          f"{g('windows_1s_over_rate', '–')} | {g('max_100ms', '–')} | {gaps} | {f(g('stalled_s'), 2)} | "
          f"{'yes' if r['none_lost'] else '**no**'} |")
seen = set()
for r in rows:
    if r.get("send_jobs") is not None and r["phase"] not in seen:
        seen.add(r["phase"])
        print(f"\n{r['phase']}: send jobs while draining {json.dumps(r['send_jobs'])}, server CPU {r['drain_server_cpu_s']} s; "
              f"{r['check'].get('statuses')} in the database")
chasqui = [r for r in rows if r["kind"] == "spacing"]
summary = {
    "run": rows[0]["run"] if rows else None,
    "numbers": len(chasqui),
    "never_above_rate": all(r.get("never_above") for r in chasqui),
    "all_within_1pct": all(r.get("within_1pct") for r in chasqui),
    "worst_deviation_pct": min((r.get("deviation_pct") or 0) for r in chasqui) if chasqui else None,
    "worst_max_1s_over_rate": max(r.get("max_1s", 0) - r["configured_rate"] for r in chasqui) if chasqui else None,
    "none_lost": all(r["none_lost"] for r in chasqui),
    "wall_s": int(sys.argv[2]),
}
print()
print("BENCH_SUMMARY " + json.dumps(summary, separators=(",", ":")))
EOF
