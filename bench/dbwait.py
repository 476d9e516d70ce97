#!/usr/bin/env python3
"""Waits until Chasqui's database holds what the load generator was told it holds, then checks it.

  dbwait.py inbound  --db URL --expect N --end-ms T [--mark JSON]
      until N inbound message rows exist (every acknowledged webhook became one message); prints
      the lag after T (the load generator's last answer, Unix ms), the backlog when polling began,
      and the counts: messages, distinct provider ids, receipts, receipts not processed, dead jobs.
      With --mark (`seed_messages.py mark`, taken before the load), only messages newer than the
      mark's newest id and receipts beyond its count are counted, through the primary key, so
      polling a database that already holds a million messages costs nothing.
  dbwait.py sent     --db URL --expect N --end-ms T
      until N outbound messages have left `queued`; prints the lag and the queued→sent time
      (last_attempt_at - created_at) percentiles.

URL: `sqlite:///path/chasqui.db` (read with Python's sqlite3) or `postgres://…` (read with psql).
One JSON line on stdout. Exit status 0 when the counts check out, 1 otherwise.
"""
import argparse
import json
import sqlite3
import subprocess
import sys
import time


class Db:
    def __init__(self, url):
        self.url = url
        if url.startswith("sqlite:"):
            path = url[len("sqlite:"):]
            while path.startswith("//"):
                path = path[1:]
            self.conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
        else:
            self.conn = None

    def rows(self, sql):
        if self.conn is not None:
            return [tuple(r) for r in self.conn.execute(sql).fetchall()]
        out = subprocess.run(["psql", self.url, "-qAtF", "\t", "-c", sql], capture_output=True, text=True, check=True).stdout
        return [tuple(int(x) if x.lstrip("-").isdigit() else x for x in line.split("\t")) for line in out.splitlines() if line]

    def one(self, sql):
        return self.rows(sql)[0][0]


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(p * len(sorted_vals)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["inbound", "sent"])
    ap.add_argument("--db", required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--end-ms", type=int, required=True)
    ap.add_argument("--stall-secs", type=float, default=30.0, help="give up after this long without progress")
    ap.add_argument("--poll-ms", type=float, default=10.0)
    ap.add_argument("--slack", type=int, default=0, help="accept up to this many rows more than --expect (wrk's uncounted in-flight answers)")
    ap.add_argument("--mark", help="inbound: count only what came after this `seed_messages.py mark`")
    args = ap.parse_args()
    db = Db(args.db)
    newer, receipts_before = "", 0
    if args.mark:
        mark = json.loads(args.mark)
        assert all(ch.isalnum() or ch == "_" for ch in mark["newest_message"])
        newer = " AND id > '%s'" % mark["newest_message"]
        receipts_before = mark["receipts"]
    if args.what == "inbound":
        progress_sql = "SELECT count(*) FROM messages WHERE direction = 'in'" + newer
    else:
        progress_sql = "SELECT count(*) FROM messages WHERE direction = 'out' AND status <> 'queued'"
    first = None
    last_n, last_change = -1, time.time()
    while True:
        n = db.one(progress_sql)
        now = time.time()
        if first is None:
            first = n
        if n >= args.expect:
            break
        if n != last_n:
            last_n, last_change = n, now
        elif now - last_change > args.stall_secs:
            break
        time.sleep(args.poll_ms / 1000.0)
    done_ms = int(time.time() * 1000)
    out = {"lag_ms": max(0, done_ms - args.end_ms), "backlog_at_end": max(0, args.expect - first), "reached": n, "expected": args.expect}
    if args.what == "inbound" and n >= args.expect:
        # A receipt is marked processed just after its message commits: give the last ones a moment.
        until = time.time() + 10
        while db.one("SELECT count(*) FROM webhook_receipts WHERE state <> 'processed'") and time.time() < until:
            time.sleep(args.poll_ms / 1000.0)
    if args.what == "inbound":
        msgs, distinct = db.rows("SELECT count(*), count(DISTINCT provider_message_id) FROM messages WHERE direction = 'in'" + newer)[0]
        receipts = db.one("SELECT count(*) FROM webhook_receipts") - receipts_before
        unprocessed = db.one("SELECT count(*) FROM webhook_receipts WHERE state <> 'processed'")
        dead = db.one("SELECT count(*) FROM jobs WHERE state = 'dead'")
        out.update(messages=msgs, distinct=distinct, receipts=receipts, unprocessed=unprocessed, dead_jobs=dead)
        ok = (args.expect <= msgs <= args.expect + args.slack and distinct == msgs and receipts == msgs
              and unprocessed == 0 and dead == 0)
    else:
        rows = db.rows("SELECT status, count(*) FROM messages WHERE direction = 'out' GROUP BY status")
        out["statuses"] = {s: c for s, c in rows}
        times = sorted(r[0] for r in db.rows(
            "SELECT last_attempt_at - created_at FROM messages WHERE direction = 'out' AND status = 'sent' AND last_attempt_at IS NOT NULL"))
        out.update(to_sent_p50_ms=pct(times, 0.5), to_sent_p99_ms=pct(times, 0.99), to_sent_max_ms=times[-1] if times else None)
        total = sum(c for _, c in rows)
        ok = total == args.expect and out["statuses"].get("sent", 0) == args.expect
    out["verified"] = ok
    print(json.dumps(out, separators=(",", ":")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
