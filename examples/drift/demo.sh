#!/usr/bin/env bash
# demo.sh — the whole loop on the breast-cancer model, in one command:
#
#   examples/drift/demo.sh PATH/TO/mlplane
#
# 1. trains and registers bc-drift version 1 (pipeline.yaml) on the breast-cancer data;
# 2. starts `mlplane server` (127.0.0.1, a free port) and applies monitor.yaml: the
#    Deployment bc serving version 1 with every request logged, and the Monitor bc-drift;
# 3. sends rows like the training data: the Monitor finds no drift;
# 4. sends rows whose first four features are shifted: the Monitor finds drift and
#    retrains on the shifted data (data/shifted.csv), version 2 is registered and
#    becomes bc's canary for 50% of the requests;
# 5. keeps sending shifted rows: after 20 requests to the canary, version 2 is promoted
#    to 100% (no worse than version 1) and the Monitor, now comparing with version 2's
#    training data, finds no drift;
# 6. shows `mlplane describe monitor bc-drift` and `get deployments`, stops the server.
# Works in a fresh folder (the example's files copied there, the shifted data written
# there) with the home ${MLPLANE_HOME:-FOLDER/home}; the folder is removed at the end
# unless MLPLANE_HOME is given (its runs and model versions name the files there). Needs bash, awk, curl and jq
# (`make deps`). Exit status: 0 the loop closed, 1 it did not (what was waited for is
# printed), 2 bad usage.
set -euo pipefail

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
export PATH="$(dirname "$BIN"):$PATH" # the pipeline's steps run `mlplane xgb`
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d)"
HOME_DIR="${MLPLANE_HOME:-$WORK/home}"
mp() { "$BIN" --home "$HOME_DIR" "$@"; }
SERVER_PID=
cleanup() {
    [ -z "$SERVER_PID" ] || { kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; } || true
    # with MLPLANE_HOME given, the files its runs and versions name stay
    if [ -n "${MLPLANE_HOME:-}" ]; then rm -f "$WORK"/*.json "$WORK"/server.*; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
say() { echo "demo: $*"; }
die() { echo "demo: $*" >&2; exit 1; }
# until SECONDS WHAT COMMAND...: polls until the command succeeds
until_ok() {
    local secs=$1 what=$2 end; shift 2
    end=$(( $(date +%s) + secs ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || die "timed out waiting for $what"
        sleep 0.2
    done
}

mkdir -p "$WORK/drift" "$WORK/data"
cp "$ROOT/examples/drift/pipeline.yaml" "$ROOT/examples/drift/monitor.yaml" "$WORK/drift/"
cp "$ROOT/examples/data/breast_cancer.csv" "$WORK/data/"
# what the requests will look like: the first four features moved by several standard deviations
awk -F, -v OFS=, 'NR == 1 { print; next } { $1 += 20; $2 += 25; $3 += 150; $4 += 2000; print }' \
    "$WORK/data/breast_cancer.csv" >"$WORK/data/shifted.csv"

say "1. training bc-drift version 1 (home $HOME_DIR)"
mp run "$WORK/drift/pipeline.yaml" >/dev/null || die "the training run failed"
mp models get bc-drift -o json | jq -r '.model_versions[] | "demo:    version \(.version), trained on \(.tags[]? | select(.key == "mlplane.trainingData") | .value)"'

say "2. mlplane server, Deployment bc and Monitor bc-drift"
"$BIN" --home "$HOME_DIR" server --listen 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
until_ok 20 "the server" grep -q "listening on" "$WORK/server.out"
mp apply -f "$WORK/drift/monitor.yaml"
url() { mp get deployments -o json | jq -r '.[] | select(.deployment == "bc") | .url // empty'; }
has_url() { [ -n "$(url)" ]; }
until_ok 30 "deployment bc's URL" has_url
U=$(url)
until_ok 30 "deployment bc to be ready" curl -sf "$U/v2/health/ready"

# a sample spread over the data set (its rows are ordered by class): every 5th row
spread() { awk -F, -v OFS=, -v o="$2" 'NR > 1 && NR % 5 == o { NF = 30; print }' "$1"; }
spread "$WORK/data/breast_cancer.csv" 0 >"$WORK/data/like.rows"
spread "$WORK/data/shifted.csv" 1 >"$WORK/data/shifted.rows"
# send FILE FIRST COUNT ROWS: COUNT requests of ROWS rows each, from row FIRST of FILE on (wrapping)
send() {
    local file=$1 first=$2 count=$3 rows=$4 i data total
    total=$(wc -l <"$file")
    for i in $(seq 0 $((count - 1))); do
        data=$(awk -v a=$((first + i * rows)) -v n="$rows" -v t="$total" \
            '{ r[NR] = $0 } END { for (k = 0; k < n; k++) print r[(a + k - 1) % t + 1] }' "$file" | paste -sd, -)
        printf '{"inputs":[{"name":"input-0","shape":[%d,30],"datatype":"FP32","data":[%s]}]}' "$rows" "$data" >"$WORK/req.json"
        curl -sf -o /dev/null -XPOST "$U/v2/models/bc/infer" --data-binary @"$WORK/req.json" || die "inference failed"
    done
}
check_is() { # STATUS [VERSION]: the last check has this status (and version)
    local c
    c=$(mp describe monitor bc-drift -o json | jq -r '.lastCheck | "\(.status) \(.version)"')
    [ "${c% *}" = "$1" ] && { [ -z "${2:-}" ] || [ "${c#* }" = "$2" ]; }
}
has_event() { mp describe monitor bc-drift -o json | jq -e --arg t "$1" '[.events[] | .type] | index($t)' >/dev/null; }
last_message() { mp describe monitor bc-drift -o json | jq -r --arg t "$1" '[.events[] | select(.type == $t)][-1].message'; }

say "3. 100 rows like the training data"
send "$WORK/data/like.rows" 1 10 10
until_ok 60 "a check without drift" check_is NoDrift 1
say "   $(mp describe monitor bc-drift -o json | jq -r .lastCheck.message)"

say "4. 100 rows with f0..f3 shifted"
send "$WORK/data/shifted.rows" 1 10 10
until_ok 60 "drift" has_event DriftDetected
say "   $(last_message DriftDetected)"
until_ok 60 "the retraining" has_event RetrainSubmitted
say "   retraining: $(last_message RetrainSubmitted)"
until_ok 120 "the retrained version" has_event ModelRetrained
say "   $(last_message ModelRetrained)"
until_ok 60 "the canary" has_event CanaryStarted
say "   canary: $(last_message CanaryStarted)"

say "5. shifted rows until the canary is judged"
judged() { has_event CanaryPromoted || has_event CanaryRolledBack; }
end=$(( $(date +%s) + 120 ))
until judged; do
    [ "$(date +%s)" -lt "$end" ] || die "timed out waiting for the canary to be judged"
    send "$WORK/data/shifted.rows" $((RANDOM % 100 + 1)) 4 1
done
has_event CanaryPromoted || die "the canary was rolled back: $(last_message CanaryRolledBack)"
say "   promoted: $(last_message CanaryPromoted)"
send "$WORK/data/shifted.rows" 11 10 10
until_ok 60 "a check of version 2 without drift" check_is NoDrift 2
say "   $(mp describe monitor bc-drift -o json | jq -r .lastCheck.message) (version 2)"

say "6. the Monitor and the Deployment"
mp describe monitor bc-drift
mp get deployments
say "the loop closed: drift found, retrained, version 2 canaried and promoted"
