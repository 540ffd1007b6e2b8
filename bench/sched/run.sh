#!/bin/bash
# bench/sched — the scheduler: its decisions, and trivial-job throughput on this
# node side by side with Slurm on the same machine, measured in the same run.
#   (a) bench_sched_decide: the admission cycle alone (its own BENCH lines);
#   (b) end to end, N trivial jobs, each an independent job as a user submits it:
#       mlplane: N one-step pipelines (`command: ["true"]`, no resources, so the
#       step holds nothing and is bounded only by --parallel), all submitted at
#       once with `mlplane run --detach` from background shells, done when
#       `mlplane get runs` shows every run ended; jobs/s = N / (first submit ->
#       all ended), the median of ROUNDS rounds, each in a fresh home. Reported
#       for the Slurm N and a bigger N, and for the bigger N with
#       `resources: {cpu: 1}` per job (each job holds a core, as in Slurm);
#       Slurm: the peer's bench.sh, N x `sbatch --wrap=true -o /dev/null` in a row,
#       jobs/s = N / (first submit -> squeue empty). Slurm is installed and started
#       on 127.0.0.1 by the peer's setup.sh (root, apt) and stopped by pid with its
#       stop.sh when done or on exit, unless it was running before.
# Target: mlplane >= 10 x Slurm. Each side runs alone on the machine, mlplane
# first. Without the peer scripts, root or a working Slurm the comparison is
# skipped with a message. A figure whose runs fail or do not all end within
# SCHED_BENCH_WAIT_S is printed as 0 ... SHORT, and the home of that round is
# kept for inspection (its path printed); the exit status is non-zero only for
# mlplane's own failures. No run lost under many rounds of 500: bench/sched/soak.sh
# (make soak).
# Usage: bench/sched/run.sh BUILD_DIR
# Env: SCHED_BENCH_SLURM_JOBS (40), SCHED_BENCH_JOBS (500, the bigger N),
#      SCHED_BENCH_ROUNDS (3), SCHED_BENCH_WAIT_S (120, per round),
#      SCHED_BENCH_SLURM_PROFILE (stock | tuned = batch_sched_delay=0),
#      SLURM_PEER_DIR (the peer scripts; default: the first of
#      REPO/../shared/peers/slurm, /work/shared/peers/slurm).
set -euo pipefail
BUILD=${1:-build}
NS=${SCHED_BENCH_SLURM_JOBS:-40}
NBIG=${SCHED_BENCH_JOBS:-500}
ROUNDS=${SCHED_BENCH_ROUNDS:-3}
WAIT_S=${SCHED_BENCH_WAIT_S:-120}
PROFILE=${SCHED_BENCH_SLURM_PROFILE:-stock}
MLPLANE="$BUILD/mlplane"
DECIDE="$BUILD/bench_sched_decide"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$MLPLANE" ] || { echo "bench-sched: $MLPLANE is missing; build first (make)" >&2; exit 2; }
command -v jq > /dev/null || { echo "bench-sched: jq is missing (make deps)" >&2; exit 2; }
case "$PROFILE" in
  stock) SCHED_PARAMS= ;;
  tuned) SCHED_PARAMS=batch_sched_delay=0 ;;
  *) echo "bench-sched: SCHED_BENCH_SLURM_PROFILE must be stock or tuned" >&2; exit 2 ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlplane-bench-sched.XXXXXX")
PEER=
SLURM_STARTED=0
FAILED=0
# a run has ended when it is in a final state, or Interrupted (no live process drives it)
ENDED='.state == "Succeeded" or .state == "Failed" or .state == "Cancelled" or .state == "Interrupted"'

# stop_runs HOME...: cancels the runs in HOME that have not ended (a stall or an
# interrupt), then ends what is left of their engines, found by that --home
# shellcheck disable=SC2317  # also run by the EXIT trap
stop_runs() {
  local home run pids
  for home in "$@"; do
    [ -f "$home/mlplane.db" ] || continue
    for run in $("$MLPLANE" --home "$home" get runs -o json 2>/dev/null |
                 jq -r ".[] | select(($ENDED) | not) | .id" 2>/dev/null); do
      "$MLPLANE" --home "$home" cancel "$run" > /dev/null 2>&1 || true
    done
    pids=$(pgrep -f -- "--home $home run" || true)
    [ -z "$pids" ] || sleep 2
    pids=$(pgrep -f -- "--home $home run" || true)
    # shellcheck disable=SC2086  # a list of pids
    [ -z "$pids" ] || kill $pids 2>/dev/null || true
  done
}
# clear_slurm: cancels the bench's jobs (all named wrap) left in the queue of a
# Slurm this bench started, by an interrupt now or in an earlier run; waits for
# the queue to empty (10 s at most)
# shellcheck disable=SC2317  # also run by the EXIT trap
clear_slurm() {
  [ "$SLURM_STARTED" = 1 ] && [ -n "$(squeue -h -n wrap -o %i 2>/dev/null)" ] || return 0
  echo "bench-sched: cancelling $(squeue -h -n wrap -o %i | wc -l) bench jobs left in the Slurm queue"
  scancel -n wrap 2>/dev/null || true
  for _ in $(seq 100); do [ -z "$(squeue -h -n wrap -o %i 2>/dev/null)" ] && break; sleep 0.1; done
}
# shellcheck disable=SC2317  # also run by the EXIT trap
stop_slurm() {
  [ "$SLURM_STARTED" = 1 ] || return 0
  clear_slurm
  echo "bench-sched: stopping Slurm"
  bash "$PEER/stop.sh" 2>&1 | sed 's/^/  /' || true
  SLURM_STARTED=0
}
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  stop_runs "$WORK"/home-*
  stop_slurm
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ---- (a) the admission cycle alone ----------------------------------------------
if [ -x "$DECIDE" ]; then
  "$DECIDE" || { echo "bench-sched: bench_sched_decide failed" >&2; FAILED=1; }
else
  echo "bench-sched: bench_sched_decide not built ($DECIDE); skipping (a)"
fi

# ---- (b) mlplane: N independent one-step runs, all submitted at once --------------
# job_yaml FILE [RESOURCES]: a one-step pipeline whose step runs `true`
job_yaml() {
  {
    echo "apiVersion: mlplane.dev/v1"
    echo "kind: Pipeline"
    echo "metadata: {name: trivial}"
    echo "spec:"
    echo "  steps:"
    echo "    - {name: job, command: [\"true\"]${2:+, resources: $2}}"
  } > "$1"
}
job_yaml "$WORK/job.yaml"
job_yaml "$WORK/job-cpu1.yaml" "{cpu: 1}"

# ended HOME: how many runs in HOME have ended
ended() {
  local n
  n=$("$MLPLANE" --home "$1" get runs -o json 2>/dev/null | jq "[.[] | select($ENDED)] | length" 2>/dev/null) || n=0
  echo "${n:-0}"
}

# mlplane_round SPEC N HOME: submits N runs of SPEC at once, waits until all have
# ended and checks they all succeeded; prints the seconds from first submit to the end
mlplane_round() {
  local spec=$1 n=$2 home=$3 t0 t1 fin ok i
  mkdir -p "$home.out"
  t0=$(now)
  for i in $(seq 1 "$n"); do
    "$MLPLANE" --home "$home" run --detach "$spec" > "$home.out/$i" 2>&1 &
  done
  wait
  ok=$(cat "$home.out"/* | grep -c '^trivial-' || true)
  if [ "$ok" != "$n" ]; then
    echo "bench-sched: only $ok of $n submits printed a run id; what they printed besides:" >&2
    cat "$home.out"/* | grep -v '^trivial-' | sed 's/trivial-[a-z0-9]*/RUN/' | sort | uniq -c | head -5 >&2 || true
    return 1
  fi
  while fin=$(ended "$home"); [ "$fin" -lt "$n" ]; do
    if awk -v a="$t0" -v b="$(now)" -v w="$WAIT_S" 'BEGIN { exit !(b - a > w) }'; then
      echo "bench-sched: only $fin of $n runs ended after ${WAIT_S}s; runs by state, then the queue:" >&2
      "$MLPLANE" --home "$home" get runs -o json | jq -r '.[].state' | sort | uniq -c | sed 's/^/  /' >&2 || true
      "$MLPLANE" --home "$home" get queue 2>&1 | head -4 | sed 's/^/  /' >&2 || true
      return 1
    fi
    sleep 0.02
  done
  t1=$(now)
  ok=$("$MLPLANE" --home "$home" get runs -o json | jq '[.[] | select(.state == "Succeeded")] | length')
  if [ "$ok" != "$n" ]; then
    echo "bench-sched: only $ok of $n runs succeeded; runs by state:" >&2
    "$MLPLANE" --home "$home" get runs -o json | jq -r '.[].state' | sort | uniq -c | sed 's/^/  /' >&2 || true
    return 1
  fi
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
}

# keep_home HOME: moves a failed round's home and its submits' output out of
# WORK (removed on exit) and says where
KEPT=
keep_home() {
  [ -n "$KEPT" ] || KEPT=$(mktemp -d "${TMPDIR:-/tmp}/mlplane-bench-sched-failed.XXXXXX")
  mv "$1" "$1.out" "$KEPT/" 2>/dev/null || true
  echo "  kept the home of that round for inspection: $KEPT/$(basename "$1") (submits' output: $KEPT/$(basename "$1").out)"
}

# mlplane_median SPEC N TAG: ROUNDS rounds, each in a fresh home; prints the
# rounds and leaves the median seconds in WORK/TAG.s (nothing there on a failure)
mlplane_median() {
  local r t home
  : > "$WORK/$3.txt"
  for r in $(seq 1 "$ROUNDS"); do
    home="$WORK/home-$3-$r"
    if ! t=$(mlplane_round "$1" "$2" "$home"); then
      stop_runs "$home"
      echo "  mlplane N=$2 ($3): round $r failed"
      keep_home "$home"
      FAILED=1; return 0
    fi
    echo "$t" >> "$WORK/$3.txt"
    rm -rf "$home" "$home.out"
  done
  echo "  mlplane N=$2 ($3): $(tr '\n' ' ' < "$WORK/$3.txt")s"
  median < "$WORK/$3.txt" > "$WORK/$3.s"
}

echo "bench-sched: end to end, $(nproc) CPUs; mlplane N=$NS and N=$NBIG (median of $ROUNDS), then Slurm N=$NS ($PROFILE)"
mlplane_median "$WORK/job.yaml" "$NS" same
mlplane_median "$WORK/job.yaml" "$NBIG" big
mlplane_median "$WORK/job-cpu1.yaml" "$NBIG" cpu1
secs() { cat "$WORK/$1.s" 2>/dev/null || echo 0; }   # 0: the figure failed
TS=$(secs same); TB=$(secs big); TC=$(secs cpu1)

# ---- (b) Slurm: the peer's setup.sh, bench.sh, stop.sh ----------------------------
# find_peer: sets PEER to the first directory holding the Slurm peer scripts
find_peer() {
  local d
  if [ -n "${SLURM_PEER_DIR:-}" ]; then set -- "$SLURM_PEER_DIR"
  else set -- "$REPO/../shared/peers/slurm" /work/shared/peers/slurm; fi
  for d in "$@"; do
    if [ -f "$d/setup.sh" ] && [ -f "$d/bench.sh" ] && [ -f "$d/stop.sh" ]; then
      PEER=$(cd "$d" && pwd); return 0
    fi
  done
  return 1
}

# slurm_bench: sets SLURM_S, the seconds from first submit to an empty queue
slurm_bench() {
  local pids=/var/spool/slurm/pids acc
  find_peer || { echo "bench-sched: no Slurm peer scripts (set SLURM_PEER_DIR); skipping the Slurm comparison"; return 1; }
  [ "$(id -u)" = 0 ] || { echo "bench-sched: installing and starting Slurm needs root; skipping the Slurm comparison"; return 1; }
  if [ -s "$pids/slurmctld.pid" ] && kill -0 "$(cat "$pids/slurmctld.pid")" 2>/dev/null; then
    echo "bench-sched: Slurm was already running; it is left running"
  else
    SLURM_STARTED=1
  fi
  echo "bench-sched: setting up Slurm from $PEER"
  if ! SCHED_PARAMS=$SCHED_PARAMS bash "$PEER/setup.sh" > "$WORK/setup.log" 2>&1; then
    echo "bench-sched: Slurm could not be installed or started; skipping the Slurm comparison:"
    tail -5 "$WORK/setup.log" | sed 's/^/  /'
    return 1
  fi
  clear_slurm
  if ! SRUN_RUNS=5 bash "$PEER/bench.sh" "$NS" > "$WORK/slurm.log" 2>&1; then
    echo "bench-sched: the Slurm bench failed; skipping the Slurm comparison:"
    tail -5 "$WORK/slurm.log" | sed 's/^/  /'
    return 1
  fi
  grep -E '^(   slurm-wlm|   SchedulerParameters|== \(a\)|end-to-end)' "$WORK/slurm.log" | sed 's/^ */  slurm: /'
  sed -n 's/^min /  slurm: srun true ms: min /p' "$WORK/slurm.log"
  acc=$(sed -n 's/^== (a) batch: \([0-9]*\)\/.*/\1/p' "$WORK/slurm.log")
  SLURM_S=$(sed -n 's/^end-to-end *: *\([0-9.]*\) s.*/\1/p' "$WORK/slurm.log")
  if [ -z "$SLURM_S" ] || [ "$acc" != "$NS" ]; then
    echo "bench-sched: Slurm accepted ${acc:-?} of $NS jobs; skipping the Slurm comparison"; return 1
  fi
}

SLURM_S=
if slurm_bench; then
  stop_slurm
  awk -v p="$PROFILE${SCHED_PARAMS:+: $SCHED_PARAMS}" -v ns="$NS" -v nb="$NBIG" \
      -v ss="$SLURM_S" -v ts="$TS" -v tb="$TB" -v tc="$TC" '
  function wall(t) { return (t > 0) ? sprintf("in %.2fs", t) : "failed" }
  BEGIN {
    printf "bench-sched: Slurm (%s) N=%d in %.2fs; mlplane N=%d %s, N=%d %s, N=%d with cpu: 1 each %s\n",
      p, ns, ss, ns, wall(ts), nb, wall(tb), nb, wall(tc);
    s = ns / ss; t = 10 * s;
    a = (ts > 0) ? ns / ts : 0; b = (tb > 0) ? nb / tb : 0; c = (tc > 0) ? nb / tc : 0; r = a / s;
    printf "BENCH sched_slurm_jobs_per_s %.2f jobs/s target >= 0 ok\n", s;
    printf "BENCH sched_local_jobs_per_s %.1f jobs/s target >= %.2f %s\n", a, t, (a >= t) ? "ok" : "SHORT";
    printf "BENCH sched_local_vs_slurm_ratio %.1f x target >= 10 %s\n", r, (r >= 10) ? "ok" : "SHORT";
    printf "BENCH sched_local_jobs_per_s_n%d %.1f jobs/s target >= %.2f %s\n", nb, b, t, (b >= t) ? "ok" : "SHORT";
    printf "BENCH sched_local_cpu1_jobs_per_s_n%d %.1f jobs/s target >= %.2f %s\n", nb, c, t, (c >= t) ? "ok" : "SHORT";
  }'
else
  stop_slurm
  awk -v ns="$NS" -v nb="$NBIG" -v ts="$TS" -v tb="$TB" -v tc="$TC" 'BEGIN {
    printf "bench-sched: no Slurm to compare with; mlplane alone (0: failed): N=%d %.1f jobs/s, N=%d %.1f jobs/s, N=%d with cpu: 1 each %.1f jobs/s\n",
      ns, (ts > 0) ? ns / ts : 0, nb, (tb > 0) ? nb / tb : 0, nb, (tc > 0) ? nb / tc : 0 }'
fi
exit "$FAILED"
