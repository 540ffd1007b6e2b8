#!/bin/bash
# bench/tracking — the tracking server against the limits of this machine,
# measured in the same run:
#   (a) log-batch ingestion of POINTS metric points over HTTP from a C client with
#       4 keep-alive connections, 1000 points a request (points/s);
#   (b) the limit: the raw SQLite insert rate of the same rows into the same table
#       and indexes the server uses, through the server's own INSERT statement,
#       prepared once, in one transaction (rows/s);
#   (c) runs/search over 100,000 runs with a metric filter and order_by, 100 runs
#       a page (ms, p50/p99); also reported for 1,000-run pages.
#   (d) (a) again against a server with --auth, each request with the token of a
#       user bound to the built-in editor role (Authorization: Bearer): the overhead
#       of authentication and authorization (and of the audit log) on log-batch;
#       and, since (a) and (d) swing by tens of percent on a shared machine, the
#       cost of one token check measured alone (us), against the server time of
#       one 1000-point request at (a)'s rate: what --auth adds, noise aside.
# Targets: (a) >= 0.5 x (b); (c) p99 <= 50 ms; (d) at most 5% below (a). Each of
# (a), (b) and (d) is the median of ROUNDS rounds, alternating, since this
# machine's disk and CPUs are noisy; (d)'s overhead is the median of the rounds'
# paired differences (each round's (a) and (d) run one after the other).
# Usage: bench/tracking/run.sh BUILD_DIR [POINTS] [ROUNDS]
set -euo pipefail
BUILD=${1:-build}
POINTS=${2:-1000000}
ROUNDS=${3:-7}
NRUNS=${NRUNS:-100000}
MLPLANE="$BUILD/mlplane"
for b in "$MLPLANE" "$BUILD/bench_track" "$BUILD/bench_track_ingest"; do
  [ -x "$b" ] || { echo "bench-tracking: $b is missing; build first (make)" >&2; exit 2; }
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlplane-bench-tracking.XXXXXX")
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# start_server HOME [ARGS...]: starts mlplane server on a free port, sets SERVER_PID and URL
start_server() {
  local home=$1; shift
  "$MLPLANE" server --home "$home" --listen 127.0.0.1:0 "$@" > "$home.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q listening "$home.out" 2>/dev/null && break; sleep 0.05; done
  URL=$(sed -n 's/^mlplane server listening on \(http:[^ ]*\) .*/\1/p' "$home.out")
  [ -n "$URL" ] || { echo "bench-tracking: the server did not start: $(cat "$home.out")" >&2; exit 1; }
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "bench-tracking: $POINTS points x $ROUNDS rounds, $NRUNS runs for search, $(nproc) CPUs"
: > "$WORK/a.txt"; : > "$WORK/b.txt"; : > "$WORK/d.txt"; : > "$WORK/pct.txt"
for r in $(seq 1 "$ROUNDS"); do
  # (a) and (d) in turns, first one then the other, so that neither always comes first
  for phase in $( ((r % 2)) && echo "a d" || echo "d a"); do
    if [ "$phase" = a ]; then
      start_server "$WORK/ingest-$r"
      a=$("$BUILD/bench_track_ingest" "$URL" "$POINTS" 4 1000 | awk '{print $4}')
    else
      # an ordinary user (not system:masters) with the built-in editor role in its namespace:
      # every request goes through authentication and the RBAC check
      token=$("$MLPLANE" --home "$WORK/auth-$r" token create --user bench --namespace default 2>/dev/null | head -1)
      printf 'apiVersion: mlplane.dev/v1\nkind: RoleBinding\nmetadata: {name: bench-editor, namespace: default}\nroleRef: {kind: ClusterRole, name: editor}\nsubjects: [{kind: User, name: bench}]\n' \
        > "$WORK/auth-$r.rb.yaml"
      "$MLPLANE" --home "$WORK/auth-$r" apply -f "$WORK/auth-$r.rb.yaml" >/dev/null
      start_server "$WORK/auth-$r" --auth
      d=$(MLPLANE_TOKEN=$token "$BUILD/bench_track_ingest" "$URL" "$POINTS" 4 1000 | awk '{print $4}')
    fi
    stop_server
  done
  b=$("$BUILD/bench_track" raw "$WORK/raw-$r.db" "$POINTS" | awk '{print $4}')
  echo "$a" >> "$WORK/a.txt"; echo "$b" >> "$WORK/b.txt"; echo "$d" >> "$WORK/d.txt"
  awk -v a="$a" -v d="$d" 'BEGIN { print (a - d) / a * 100 }' >> "$WORK/pct.txt"
  echo "  round $r: log-batch over HTTP $a points/s, with a token (--auth) $d points/s, raw SQLite insert $b rows/s"
  rm -rf "$WORK/ingest-$r" "$WORK/auth-$r"* "$WORK/raw-$r.db"*
done
A=$(median < "$WORK/a.txt"); B=$(median < "$WORK/b.txt"); D=$(median < "$WORK/d.txt"); PCT=$(median < "$WORK/pct.txt")
V=$("$BUILD/bench_track" auth "$WORK/auth.db" 100000 | awk '{print $4}')

echo "  seeding $NRUNS runs..."
exp=$("$BUILD/bench_track" seed "$WORK/search" "$NRUNS" | awk '{print $2}')
start_server "$WORK/search"
read -r _ _ p50 p99 _ < <("$BUILD/bench_track" search "$URL" "$exp" 200 100)
read -r _ _ q50 q99 _ < <("$BUILD/bench_track" search "$URL" "$exp" 50 1000)
stop_server

awk -v a="$A" -v b="$B" -v d="$D" -v pct="$PCT" -v v="$V" -v p50="$p50" -v p99="$p99" -v q50="$q50" -v q99="$q99" 'BEGIN {
  printf "BENCH logbatch_points_per_s %.0f points/s target >= %.0f %s\n", a, 0.5 * b, (a >= 0.5 * b) ? "ok" : "SHORT";
  printf "BENCH raw_sqlite_rows_per_s %.0f rows/s target > 0 ok\n", b;
  printf "BENCH logbatch_ratio %.2f x target >= 0.50 %s\n", a / b, (a / b >= 0.5) ? "ok" : "SHORT";
  # the overhead: the median of the rounds paired differences (pct)
  printf "BENCH logbatch_auth_points_per_s %.0f points/s target >= %.0f %s\n", d, 0.95 * a, (d >= 0.95 * a) ? "ok" : "SHORT";
  printf "BENCH auth_overhead_logbatch %.1f %% target <= 5 %s\n", pct, (pct <= 5) ? "ok" : "SHORT";
  est = v * 1e-6 * a / 1000 * 100; # one check per 1000-point request, at rate a
  printf "BENCH auth_check_us %.2f us target > 0 ok\n", v;
  printf "BENCH auth_check_share_logbatch %.3f %% target <= 5 %s\n", est, (est <= 5) ? "ok" : "SHORT";
  printf "BENCH search_100_p50 %.1f ms target <= 50 %s\n", p50, (p50 <= 50) ? "ok" : "SHORT";
  printf "BENCH search_100_p99 %.1f ms target <= 50 %s\n", p99, (p99 <= 50) ? "ok" : "SHORT";
  printf "BENCH search_1000_p50 %.1f ms target <= 50 %s\n", q50, (q50 <= 50) ? "ok" : "SHORT";
  printf "BENCH search_1000_p99 %.1f ms target <= 50 %s\n", q99, (q99 <= 50) ? "ok" : "SHORT";
}'
