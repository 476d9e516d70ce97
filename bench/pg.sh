#!/usr/bin/env bash
# A throwaway, durable PostgreSQL cluster for the benchmarks (fsync and synchronous_commit on, the
# defaults, unlike the test suite's cluster which turns them off).
#
#   bench/pg.sh start     initdb + start on 127.0.0.1:$BENCH_PG_PORT (55439); prints the URL
#   bench/pg.sh stop      stop it and delete its directory
#
# Then: BENCH_DATABASE_URL=$(bench/pg.sh url) bench/ingest.sh chasqui
# Needs the server binaries (/usr/lib/postgresql/*/bin, Debian package postgresql). As root it
# runs them as the `postgres` user, since initdb refuses to run as root.

set -euo pipefail
: "${BENCH_PG_PORT:=55439}"
: "${BENCH_PG_DIR:=/tmp/chasqui-bench-pg}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -n "$BIN" ]] || { echo "no /usr/lib/postgresql/*/bin: apt-get install postgresql" >&2; exit 1; }
AS=()
if [[ "$(id -u)" == 0 ]]; then AS=(runuser -u postgres --); fi
URL="postgres://bench@127.0.0.1:$BENCH_PG_PORT/postgres"

case "${1:-}" in
    start)
        mkdir -p "$BENCH_PG_DIR"
        [[ "$(id -u)" == 0 ]] && chown postgres "$BENCH_PG_DIR"
        if [[ ! -f "$BENCH_PG_DIR/data/PG_VERSION" ]]; then
            "${AS[@]}" "$BIN/initdb" -D "$BENCH_PG_DIR/data" -U bench -A trust >"$BENCH_PG_DIR/initdb.log" 2>&1
        fi
        "${AS[@]}" "$BIN/pg_ctl" start -D "$BENCH_PG_DIR/data" -l "$BENCH_PG_DIR/server.log" -w -t 60 \
            -o "-p $BENCH_PG_PORT -c listen_addresses=127.0.0.1 -k $BENCH_PG_DIR -c max_connections=200 -c shared_buffers=256MB" >&2
        echo "$URL"
        ;;
    stop)
        "${AS[@]}" "$BIN/pg_ctl" stop -D "$BENCH_PG_DIR/data" -m fast -w >&2 || true
        rm -rf "$BENCH_PG_DIR"
        ;;
    url) echo "$URL" ;;
    *) echo "usage: bench/pg.sh start|stop|url" >&2; exit 2 ;;
esac
