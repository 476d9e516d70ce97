#!/usr/bin/env python3
"""Prints the table and the ratios of one benchmark run from the results file (JSON lines).

  report.py RESULTS.jsonl [RUN_ID]     (default: the last run in the file)
"""
import json
import sys


def f(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def main():
    path = sys.argv[1]
    rows = [json.loads(line) for line in open(path) if line.strip()]
    run = sys.argv[2] if len(sys.argv) > 2 else rows[-1]["run"]
    rows = [r for r in rows if r.get("run") == run]
    machine = next((r for r in rows if r.get("kind") == "machine"), {})
    runs = [r for r in rows if r.get("kind") != "machine"]
    print()
    print(f"run {run} on {machine.get('nproc')} x {machine.get('cpu')}, {machine.get('ram')}, commit {machine.get('commit', '')[:12]}"
          + (" (dirty tree)" if machine.get("dirty") else ""))
    if run.startswith("outbound"):
        print("| run | load | accepted/s | p50 ms | p99 ms | max ms | non-202 | errors | server CPU s | check |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for r in runs:
            c = r.get("check") or {}
            check = "-"
            if c:
                check = "verified" if c.get("verified") else "FAILED " + json.dumps(c)
                if "to_sent_p50_ms" in c:
                    check += (f"; queued→sent p50 {f(c.get('to_sent_p50_ms'))} ms, p99 {f(c.get('to_sent_p99_ms'))} ms, "
                              f"max {f(c.get('to_sent_max_ms'))} ms; all sent {f(c.get('lag_ms'))} ms after the last 202")
            print(f"| {r['label']} | {r.get('load')} | {f(r['rps'], 0)} | {f(r['p50_ms'], 2)} | {f(r['p99_ms'], 2)} | {f(r['max_ms'], 1)} "
                  f"| {f(r['non_ok'])} | {f(r['errors'])} | {f(r.get('server_cpu_s'), 2)} | {check} |")
        return
    print("| target | load | tool | ok/s | p50 ms | p99 ms | max ms | non-200 + errors | server CPU ms / 1k | RSS MB | lag to messages ms | verified |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in runs:
        c = r.get("check") or {}
        cpu_per_k = (r.get("server_cpu_s") or 0) * 1000 / max(1, r["ok"]) * 1000
        print(f"| {r['target']} | {r['load']} | {r.get('tool', 'loadgen')} | {f(r['rps'], 0)} | {f(r['p50_ms'], 2)} | {f(r['p99_ms'], 2)} "
              f"| {f(r['max_ms'], 1)} | {f(r['non_ok'] + r['errors'])} | {f(cpu_per_k, 0)} | {f(r.get('rss_mb'))} "
              f"| {f(c.get('lag_ms'))} | {'-' if not c else ('yes' if c.get('verified') else 'NO ' + json.dumps(c))} |")
    by = {(r["target"], r["load"], r.get("tool", "loadgen")): r for r in runs}
    ch = by.get(("chasqui", "full", "loadgen"))
    summary = {"run": run, "backend": ch.get("backend") if ch else None}
    if ch:
        he, pe = by.get(("hello", "full", "loadgen")), by.get(("peer", "full", "loadgen"))
        summary["chasqui_rps"] = ch["rps"]
        if he:
            summary["ceiling_rps"] = he["rps"]
            summary["fraction_of_ceiling"] = round(ch["rps"] / max(1, he["rps"]), 3)
        if pe:
            summary["peer_rps"] = pe["rps"]
            summary["times_peer"] = round(ch["rps"] / max(1, pe["rps"]), 1)
        at5k = by.get(("chasqui", "5000", "loadgen"))
        if at5k:
            summary["p99_ms_at_5000"] = at5k["p99_ms"]
        lags = [r["check"].get("lag_ms") for r in runs if r["target"] == "chasqui" and r.get("check")]
        summary["max_lag_ms"] = max((x for x in lags if x is not None), default=None)
        summary["all_verified"] = all(r.get("check", {}).get("verified") for r in runs if r["target"] in ("chasqui", "chasqui-pg", "peer"))
        pg = by.get(("chasqui-pg", "full", "loadgen"))
        if pg:
            summary["postgres_rps"] = pg["rps"]
            summary["postgres_vs_sqlite"] = round(pg["rps"] / max(1, ch["rps"]), 2)
        print()
        print("targets (issue 6):")
        t = [("≥ 20,000 webhooks/s", ch["rps"] >= 20000, f"{ch['rps']:,.0f}/s")]
        if "times_peer" in summary:
            t.append(("≥ 10× the peer", summary["times_peer"] >= 10, f"{summary['times_peer']}×"))
        if "fraction_of_ceiling" in summary:
            t.append(("≥ 30 % of the ceiling", summary["fraction_of_ceiling"] >= 0.3, f"{summary['fraction_of_ceiling'] * 100:.1f} %"))
        if at5k:
            t.append(("ack p99 < 10 ms at 5,000/s", at5k["p99_ms"] < 10, f"{at5k['p99_ms']:.2f} ms"))
        if summary["max_lag_ms"] is not None:
            t.append(("lag < 1 s", summary["max_lag_ms"] < 1000, f"{summary['max_lag_ms']:,} ms (worst load)"))
        if pg:
            t.append(("PostgreSQL within 2× of SQLite", pg["rps"] * 2 >= ch["rps"], f"{pg['rps']:,.0f}/s = {summary['postgres_vs_sqlite']}× SQLite"))
        for name, met, val in t:
            print(f"- {name}: {val} {'met' if met else 'MISSED'}")
    print()
    print("BENCH_SUMMARY " + json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
