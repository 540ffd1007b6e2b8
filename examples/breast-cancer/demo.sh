#!/usr/bin/env bash
# demo.sh — runs the breast-cancer pipeline end to end and checks the result.
#
#   examples/breast-cancer/demo.sh PATH/TO/mlplane
#
# Runs `mlplane run examples/breast-cancer/pipeline.yaml` from the repository root
# (found from this script's location) with --home ${MLPLANE_HOME:-~/.mlplane},
# shows the run with `mlplane describe run`, then reads the evaluate step's
# metrics.json and fails unless the test AUC is at least 0.95. Needs bash, grep,
# sed and awk; no jq or Python. Exit status: 0 ok, 1 run failed or AUC too low,
# 2 bad usage.
set -euo pipefail

MIN_AUC=0.95

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/mlplane" >&2
    exit 2
fi
BIN=$1
case "$BIN" in
    */*) BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")" ;;
    *) BIN="$(command -v "$BIN" || true)" ;;
esac
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "demo: $1 is not an executable mlplane binary" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HOME_DIR="${MLPLANE_HOME:-$HOME/.mlplane}"
mp() { "$BIN" --home "$HOME_DIR" "$@"; }

cd "$ROOT"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

echo "demo: running examples/breast-cancer/pipeline.yaml (home $HOME_DIR)"
rc=0
mp run examples/breast-cancer/pipeline.yaml | tee "$OUT" || rc=$?
RUN="$(head -n 1 "$OUT" | tr -d '[:space:]')"
if [ "$rc" -ne 0 ]; then
    echo "demo: FAILED: the run ${RUN:-?} did not succeed (mlplane run exited $rc)" >&2
    if [ -n "$RUN" ]; then mp describe run "$RUN" >&2 || true; fi
    exit 1
fi
if [ -z "$RUN" ]; then
    echo "demo: FAILED: mlplane run printed no run id" >&2
    exit 1
fi

echo
mp describe run "$RUN"
echo

# The steps' outputs directories, from `get steps -o json` ("outputs_dir": "...").
# The one holding metrics.json is the evaluate step's, the one holding model.json
# the train step's; matching on files keeps this independent of the JSON layout.
# shellcheck disable=SC2020 # tr maps each of , { } to a newline
DIRS="$(mp get steps "$RUN" -o json | tr ',{}' '\n\n\n' |
    sed -n 's/^[[:space:]]*"outputs_dir"[[:space:]]*:[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p' |
    sed 's#\\/#/#g' || true)"
if [ -z "$DIRS" ]; then # fall back to the run's files under the home directory
    DIRS="$(find "$HOME_DIR" -type f \( -name metrics.json -o -name model.json \) -path "*$RUN*" \
        -exec dirname {} \; 2>/dev/null || true)"
fi
find_output() { # NAME -> path of the first outputs dir's NAME, or nothing
    local d
    while IFS= read -r d; do
        [ -n "$d" ] && [ -f "$d/$1" ] && { printf '%s\n' "$d/$1"; return 0; }
    done <<<"$DIRS"
    return 0
}
METRICS="$(find_output metrics.json)"
MODEL="$(find_output model.json)"

# metrics.json is one flat object: {"accuracy":0.96,"auc":0.99,"logloss":0.1,"rows":114}
metric() {
    # shellcheck disable=SC2020
    tr ',{}' '\n\n\n' <"$METRICS" |
        sed -n "s/^[[:space:]]*\"$1\"[[:space:]]*:[[:space:]]*\([-+0-9.eE]*\)[[:space:]]*$/\1/p" | head -n 1
}
# Without the file (say, its step's outputs live elsewhere after a cache hit), the
# run's recorded metrics: `get metrics RUN -o json`, objects {"key":..,"value":..}.
recorded_metric() {
    # shellcheck disable=SC2020
    mp get metrics "$RUN" -o json 2>/dev/null | tr '{}' '\n\n' | grep "\"key\"[[:space:]]*:[[:space:]]*\"$1\"" |
        tr ',' '\n' | sed -n 's/^[[:space:]]*"value"[[:space:]]*:[[:space:]]*\([-+0-9.eE]*\)[[:space:]]*$/\1/p' |
        head -n 1 || true
}
if [ -n "$METRICS" ]; then
    AUC="$(metric auc)"
    ACC="$(metric accuracy)"
    SOURCE="$METRICS"
else
    AUC="$(recorded_metric auc)"
    ACC="$(recorded_metric accuracy)"
    SOURCE="the metrics recorded for run $RUN"
fi
if [ -z "$AUC" ] || [ -z "$ACC" ]; then
    echo "demo: FAILED: no test auc/accuracy found in ${SOURCE}" >&2
    exit 1
fi
AUC2="$(awk -v a="$AUC" 'BEGIN { printf "%.4f", a }')"
ACC2="$(awk -v a="$ACC" 'BEGIN { printf "%.4f", a }')"
if ! awk -v a="$AUC" -v m="$MIN_AUC" 'BEGIN { exit !(a + 0 >= m + 0) }'; then
    echo "demo: FAILED: test AUC $AUC2 < $MIN_AUC (accuracy $ACC2; from $SOURCE)" >&2
    exit 1
fi
echo "demo: test AUC $AUC2 (≥ $MIN_AUC), accuracy $ACC2; model at ${MODEL:-?} (run $RUN)"
