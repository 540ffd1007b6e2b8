#!/bin/bash
# bench/drift — `mlplane drift`'s statistics against SciPy, measured in the same run:
#   PSI (10 reference quantile bins; Jensen-Shannon over the same bins comes with
#   it) + two-sample KS (monitor_drift_options.figures = MONITOR_FIGURE_KS: the
#   Wasserstein merge left out) over ROWS x COLS numeric features
#   (default 1,000,000 x 30) against a reference of the same size, (a) with the
#   reference not precomputed (both sides sorted: monitor_reference_build +
#   monitor_drift) and (b) precomputed (the reference's sorted values, standard
#   deviation, quantile edges and bin counts kept, as a Monitor keeps them:
#   monitor_drift alone), beside scipy.stats.ks_2samp on each column of the same
#   data (/usr/bin/python3); rows/s and the peak RSS (getrusage). Each column's KS
#   statistic is checked against SciPy's. ROUNDS (3) rounds of SciPy then mlplane,
#   each figure the median of the rounds. Then `mlplane drift` end to end on CSV
#   files of CSV_ROWS rows (default 100,000) x COLS (CSV parsing included).
# Target: mlplane >= 20 x faster than SciPy's KS for PSI + KS together.
# The data is generated deterministically (GSL MT19937, seed 42) under BUILD/bench-drift.
# Usage: bench/drift/run.sh BUILD_DIR   (env: ROWS COLS CSV_ROWS REPEAT ROUNDS)
set -euo pipefail
BUILD=${1:-build}
ROWS=${ROWS:-1000000}
COLS=${COLS:-30}
CSV_ROWS=${CSV_ROWS:-100000}
REPEAT=${REPEAT:-3}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH="$BUILD/bench_drift"
MLPLANE="$BUILD/mlplane"
for b in "$BENCH" "$MLPLANE"; do
  [ -x "$b" ] || { echo "bench-drift: $b is missing; build first (make)" >&2; exit 2; }
done
/usr/bin/python3 -c 'import scipy, numpy' 2>/dev/null ||
  { echo "bench-drift: /usr/bin/python3 with scipy and numpy is needed (apt-get install python3-scipy)" >&2; exit 2; }
DIR="$BUILD/bench-drift"
mkdir -p "$DIR"
STAMP="$DIR/data-$ROWS-$COLS"
if [ ! -f "$STAMP" ]; then
  rm -f "$DIR"/data-*
  "$BENCH" gen "$DIR" "$ROWS" "$COLS"
  touch "$STAMP"
fi
echo "bench-drift: $ROWS rows x $COLS columns, reference and current ($(nproc) CPUs)"
# ROUNDS rounds, each SciPy's pass over the columns right before mlplane's (best of
# REPEAT), so that both sides of a ratio see the same load; each figure is the
# median over the rounds (a verdict from that median).
: > "$DIR/rounds.txt"
for r in $(seq 1 "$ROUNDS"); do
  read -r SCIPY_S SCIPY_CPU < <(/usr/bin/python3 "$ROOT/bench/drift/scipy_ks.py" "$DIR" "$ROWS" "$COLS")
  echo "bench-drift: round $r, load average $(cut -d' ' -f1-3 /proc/loadavg) (timings are wall-clock; CPU seconds beside them)"
  "$BENCH" run "$DIR" "$ROWS" "$COLS" "$SCIPY_S" "$REPEAT" "$SCIPY_CPU" >> "$DIR/rounds.txt"
done
awk '$1 == "BENCH" {
  if (!($2 in n)) order[++k] = $2
  v[$2, ++n[$2]] = $3; unit[$2] = $4; op[$2] = $6; lim[$2] = $7
}
END {
  for (q = 1; q <= k; q++) {
    name = order[q]; c = n[name]
    for (i = 1; i <= c; i++) a[i] = v[name, i]
    for (i = 2; i <= c; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    m = c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
    ok = op[name] == ">=" ? m + 0 >= lim[name] + 0 : op[name] == "<=" ? m + 0 <= lim[name] + 0 : m + 0 > lim[name] + 0
    if (m == "nan" || m == "-nan") ok = 0
    printf "BENCH %s %s %s target %s %s %s\n", name, m, unit[name], op[name], lim[name], ok ? "ok" : "SHORT"
  }
}' "$DIR/rounds.txt"

# end to end on CSV files: read, type, compare
[ "$CSV_ROWS" -le "$ROWS" ] || CSV_ROWS=$ROWS
"$BENCH" csv "$DIR" "$CSV_ROWS" "$COLS" "$ROWS"
best=""
for _ in $(seq 1 "$REPEAT"); do
  t0=$(date +%s.%N)
  rc=0
  "$MLPLANE" drift --reference "$DIR/ref.csv" --current "$DIR/cur.csv" -o json > "$DIR/e2e.json" || rc=$?
  t1=$(date +%s.%N)
  [ "$rc" -le 1 ] || { echo "bench-drift: mlplane drift failed ($rc)" >&2; exit 1; }
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')
  if [ -z "$best" ] || awk -v s="$s" -v b="$best" 'BEGIN { exit !(s < b) }'; then best=$s; fi
done
mib=$(du -m "$DIR/ref.csv" "$DIR/cur.csv" | awk '{ s += $1 } END { print s }')
awk -v s="$best" -v n="$CSV_ROWS" -v c="$COLS" -v m="$mib" 'BEGIN {
  printf "BENCH drift_e2e_csv_%dx%d %.3f s target > 0 ok\n", n, c, s
  printf "BENCH drift_e2e_csv_rows_per_s %.3g rows/s target > 0 ok\n", 2 * n / s
  printf "BENCH drift_e2e_csv_mib_per_s %.1f MiB/s target > 0 ok\n", m / s
}'
