#!/bin/bash
# bench/steps — how fast mlplane runs many trivial steps, against the limit of
# this machine measured in the same run.
#   (a) one pipeline of N independent `true` steps through `mlplane run`
#       (default parallelism), end to end: steps/s and ms per step;
#   (b) the limit: a bare C loop that posix_spawns and reaps /bin/true serially;
#   (c) the ratio a/b. Target: a >= 0.7 x b.
# Also (d): (a) with --parallel 1, one step at a time like the limit loop.
# Every state change is still committed to the store (checked after the run).
# Usage: bench/steps/run.sh BUILD_DIR [N] [REPEAT]
set -euo pipefail
BUILD=${1:-build}
N=${2:-1000}
REPEAT=${3:-3}
MLPLANE="$BUILD/mlplane"
SPAWN="$BUILD/bench_spawn_true"
[ -x "$MLPLANE" ] && [ -x "$SPAWN" ] || { echo "bench-steps: build first (make)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlplane-bench-steps.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

{
  echo "apiVersion: mlplane.dev/v1"
  echo "kind: Pipeline"
  echo "metadata: {name: bench-steps}"
  echo "spec:"
  echo "  steps:"
  for i in $(seq 1 "$N"); do echo "    - {name: s$i, command: [\"true\"]}"; done
} > "$WORK/pipeline.yaml"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "bench-steps: N=$N, $REPEAT rounds, $(nproc) CPUs; alternating limit and mlplane"
: > "$WORK/limit.txt"; : > "$WORK/mlplane.txt"; : > "$WORK/serial.txt"
for r in $(seq 1 "$REPEAT"); do
  "$SPAWN" "$N" | awk '{print $2}' >> "$WORK/limit.txt"
  home="$WORK/home-$r"
  t0=$(now)
  "$MLPLANE" --home "$home" run "$WORK/pipeline.yaml" > "$WORK/run-$r.out"
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$WORK/mlplane.txt"
  run=$(head -1 "$WORK/run-$r.out")
  ok=$("$MLPLANE" --home "$home" get steps "$run" -o json | grep -c '"state": "Succeeded"' || true)
  [ "$ok" = "$N" ] || { echo "bench-steps: only $ok of $N steps recorded Succeeded" >&2; exit 1; }
  # the same with one step at a time, like the serial limit loop (reported, not targeted)
  t0=$(now)
  "$MLPLANE" --home "$home-serial" run --parallel 1 "$WORK/pipeline.yaml" > /dev/null
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >> "$WORK/serial.txt"
  echo "  round $r: limit $(tail -1 "$WORK/limit.txt")s, mlplane $(tail -1 "$WORK/mlplane.txt")s, mlplane --parallel 1 $(tail -1 "$WORK/serial.txt")s"
done

tl=$(median < "$WORK/limit.txt")
tm=$(median < "$WORK/mlplane.txt")
ts=$(median < "$WORK/serial.txt")
awk -v n="$N" -v tl="$tl" -v tm="$tm" -v ts="$ts" 'BEGIN {
  a = n / tm; b = n / tl; c = a / b;
  printf "BENCH steps_per_s %.0f steps/s target >= %.0f %s\n", a, 0.7 * b, (a >= 0.7 * b) ? "ok" : "SHORT";
  printf "BENCH step_ms %.3f ms target <= %.3f %s\n", 1000 * tm / n, 1000 * tl / n / 0.7, (a >= 0.7 * b) ? "ok" : "SHORT";
  printf "BENCH spawn_limit_per_s %.0f steps/s target > 0 ok\n", b;
  printf "BENCH steps_ratio %.2f x target >= 0.70 %s\n", c, (c >= 0.7) ? "ok" : "SHORT";
  s = n / ts;
  printf "BENCH steps_per_s_parallel1 %.0f steps/s target >= %.0f %s\n", s, 0.7 * b, (s >= 0.7 * b) ? "ok" : "SHORT";
}'
