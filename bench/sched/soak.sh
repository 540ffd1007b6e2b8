#!/bin/bash
# bench/sched/soak.sh — no run is lost under a storm of submits: ROUNDS rounds,
# each in a fresh home, of N one-step runs (`command: ["true"]`) submitted all
# at once with `mlplane run --detach` from background shells, as a user or the
# server does. A run is lost when its id was printed (the submit exited 0) and
# it did not end Succeeded, when a submit printed an id and failed, or when the
# store holds a run nobody was given the id of. A submit refused with an error
# and nothing recorded is not lost, but counted (the store was too busy to take
# it). Done with a round when `mlplane get runs` shows no run Pending or Running
# (a run whose owner is gone shows Interrupted: it has ended, lost).
# The home of a round that lost a run (or refused a submit, or did not end
# within SOAK_WAIT_S) is kept, its path printed, with the lost runs' events and
# engine.log; the others are removed.
# Prints BENCH lines per variant (soak_ and soak_cpu1_): runs_lost (target
# == 0), submits_refused (target == 0), runs_succeeded (target == ROUNDS x N)
# and the median jobs/s of the rounds (first submit -> all ended; informational).
# Exit status: non-zero when a target is missed.
# Usage: bench/sched/soak.sh BUILD_DIR
# Two variants, each ROUNDS x N: plain (the step asks for nothing, bounded only
# by --parallel) and cpu1 (`resources: {cpu: 1}`: each step goes through
# admission, shared holds and the scheduler lease, and holds a core).
# Env: SOAK_JOBS (500), SOAK_ROUNDS (5), SOAK_WAIT_S (300, per round),
#      SOAK_VARIANTS ("plain cpu1"),
#      SOAK_KEEP_DIR (where failing homes are kept; default a new
#      ${TMPDIR:-/tmp}/mlplane-soak-failed.XXXXXX).
set -euo pipefail
BUILD=${1:-build}
N=${SOAK_JOBS:-500}
ROUNDS=${SOAK_ROUNDS:-5}
WAIT_S=${SOAK_WAIT_S:-300}
VARIANTS=${SOAK_VARIANTS:-plain cpu1}
MLPLANE="$BUILD/mlplane"
[ -x "$MLPLANE" ] || { echo "soak: $MLPLANE is missing; build first (make)" >&2; exit 2; }
command -v jq > /dev/null || { echo "soak: jq is missing (make deps)" >&2; exit 2; }
MLPLANE=$(cd "$(dirname "$MLPLANE")" && pwd)/mlplane

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlplane-soak.XXXXXX")
KEEP=
# stop_engines HOME: ends what is left of the engines of HOME (a round that did
# not end in time), found by that --home
# shellcheck disable=SC2317  # also run by the EXIT trap
stop_engines() {
  local pids
  pids=$(pgrep -f -- "--home $1 run" || true)
  # shellcheck disable=SC2086  # a list of pids
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
}
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local h
  for h in "$WORK"/home-*; do [ -d "$h" ] && stop_engines "$h"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# job_yaml FILE [RESOURCES]: a one-step pipeline whose step runs `true`
job_yaml() {
  printf 'apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: trivial}\nspec:\n  steps:\n    - {name: job, command: ["true"]%s}\n' \
    "${2:+, resources: $2}" > "$1"
}
job_yaml "$WORK/plain.yaml"
job_yaml "$WORK/cpu1.yaml" "{cpu: 1}"

# keep HOME: moves the round's home and the submits' output to the kept folder
keep() {
  [ -n "$KEEP" ] || KEEP=${SOAK_KEEP_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/mlplane-soak-failed.XXXXXX")}
  mkdir -p "$KEEP"
  mv "$1" "$1.sub" "$KEEP/"
  echo "soak: kept the home of this round for inspection: $KEEP/$(basename "$1") (submits' output: $KEEP/$(basename "$1").sub)"
}

FAILED_ROUNDS=0
# soak VARIANT: ROUNDS rounds of N runs of WORK/VARIANT.yaml; prints the variant's BENCH lines
soak() {
  local v=$1 r i id home sub t0 t1 acked refused late timed_out left ok lost secs
  local LOST=0 REFUSED=0 SUCCEEDED=0
  : > "$WORK/$v.secs"
  echo "soak ($v): $ROUNDS rounds of $N one-step runs$([ "$v" = cpu1 ] && echo " of cpu: 1 each") submitted at once with run --detach, $(nproc) CPUs"
  for r in $(seq 1 "$ROUNDS"); do
    home="$WORK/home-$v-$r"
    sub="$home.sub"
    mkdir -p "$sub"
    t0=$(now)
    for i in $(seq 1 "$N"); do
      ( rc=0; "$MLPLANE" --home "$home" run --detach "$WORK/$v.yaml" > "$sub/$i.out" 2> "$sub/$i.err" || rc=$?
        echo "$rc" > "$sub/$i.rc" ) &
    done
    wait
    acked=0 refused=0 late=0
  : > "$sub/printed"
    for i in $(seq 1 "$N"); do
      id=$(head -1 "$sub/$i.out")
      [ -z "$id" ] || echo "$id" >> "$sub/printed"  # an id printed, even by a submit that then failed
      if [ -n "$id" ] && [ "$(cat "$sub/$i.rc")" = 0 ]; then acked=$((acked + 1))
      elif [ -z "$id" ]; then refused=$((refused + 1))
      else late=$((late + 1)); fi
    done
    # wait until no run is Pending or Running
    timed_out=0
    while :; do
      left=$("$MLPLANE" --home "$home" get runs -o json 2>/dev/null |
             jq '[.[] | select(.state == "Pending" or .state == "Running")] | length' 2>/dev/null) || left=-1
      [ "$left" = 0 ] && break
      if awk -v a="$t0" -v b="$(now)" -v w="$WAIT_S" 'BEGIN { exit !(b - a > w) }'; then timed_out=1; break; fi
      sleep 0.1
    done
    t1=$(now)
    "$MLPLANE" --home "$home" get runs -o json > "$sub/runs.json"
    ok=$(jq '[.[] | select(.state == "Succeeded")] | length' "$sub/runs.json")
    # lost: every run printed or recorded that did not succeed
    jq -r '.[] | select(.state != "Succeeded") | "\(.id) \(.state)"' "$sub/runs.json" > "$sub/not-succeeded"
    lost=$( { cat "$sub/printed"; jq -r '.[].id' "$sub/runs.json"; } | sort -u |
            comm -23 - <(jq -r '.[] | select(.state == "Succeeded") | .id' "$sub/runs.json" | sort) | wc -l)
    LOST=$((LOST + lost)); REFUSED=$((REFUSED + refused)); SUCCEEDED=$((SUCCEEDED + ok))
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    echo "$secs" >> "$WORK/$v.secs"
    printf '  round %d: %d submitted, %d acknowledged, %d refused, %d failed after printing an id, %d succeeded, %d lost in %ss%s\n' \
      "$r" "$N" "$acked" "$refused" "$late" "$ok" "$lost" "$secs" "$([ "$timed_out" = 1 ] && echo " (not all ended within ${WAIT_S}s)")"
    if [ "$lost" -gt 0 ] || [ "$refused" -gt 0 ] || [ "$timed_out" = 1 ]; then
      FAILED_ROUNDS=$((FAILED_ROUNDS + 1))
      [ -s "$sub/not-succeeded" ] && awk '{print $2}' "$sub/not-succeeded" | sort | uniq -c | sed 's/^/    runs by state: /'
      cat "$sub"/*.err 2>/dev/null | sed 's/trivial-[a-z0-9]*/RUN/g' | sort | uniq -c | head -5 | sed 's/^/    submits said: /'
      for id in $(awk '{print $1}' "$sub/not-succeeded" | head -3); do
        echo "    $id: $("$MLPLANE" --home "$home" describe run "$id" -o json | jq -r '[.events[].type] | join(" ")')"
        [ -s "$home/runs/$id/engine.log" ] && sed 's/^/      engine.log: /' "$home/runs/$id/engine.log" | tail -3
      done
      [ "$timed_out" = 1 ] && stop_engines "$home"
      keep "$home"
    else
      rm -rf "$home" "$sub"
    fi
  done
  JPS=$(median < "$WORK/$v.secs" | awk -v n="$N" '{ printf "%.1f", ($1 > 0) ? n / $1 : 0 }')
  awk -v p="soak_$([ "$v" = cpu1 ] && echo "cpu1_")" -v l="$LOST" -v f="$REFUSED" -v s="$SUCCEEDED" -v t="$((ROUNDS * N))" \
      -v j="$JPS" -v n="$N" 'BEGIN {
    printf "BENCH %sruns_lost %d runs target == 0 %s\n", p, l, (l == 0) ? "ok" : "SHORT";
    printf "BENCH %ssubmits_refused %d submits target == 0 %s\n", p, f, (f == 0) ? "ok" : "SHORT";
    printf "BENCH %sruns_succeeded %d runs target == %d %s\n", p, s, t, (s == t) ? "ok" : "SHORT";
    printf "BENCH %sjobs_per_s_n%d %s jobs/s target >= 0 ok\n", p, n, j;
  }'
}

for v in $VARIANTS; do
  case "$v" in plain|cpu1) soak "$v" ;; *) echo "soak: SOAK_VARIANTS: unknown variant $v (plain, cpu1)" >&2; exit 2 ;; esac
done
[ "$FAILED_ROUNDS" = 0 ]
