#!/usr/bin/env bash
# demo.sh — runs the breast-cancer pipeline end to end and checks the result.
#
#   examples/breast-cancer/demo.sh PATH/TO/mlplane
#
# Runs `mlplane run examples/breast-cancer/pipeline.yaml` from the repository root
# (found from this script's location) with --home ${MLPLANE_HOME:-~/.mlplane},
# shows the run with `mlplane describe run`, then reads the evaluate step's
# metrics and fails unless the test AUC is at least 0.95. Needs bash, awk and jq
# (installed by `make deps`); no Python. Exit status: 0 ok, 1 run failed or AUC too low,
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
DEP="$(mktemp --suffix=.yaml)"
SERVE_PID=
trap 'rm -f "$OUT" "$DEP" "$OUT".serve*; [ -z "$SERVE_PID" ] || kill "$SERVE_PID" 2>/dev/null || true' EXIT

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

# The evaluate step's test metrics and the train step's model, as recorded.
metric() { mp get metrics "$RUN" -o json | jq -r --arg k "$1" '.[] | select(.step=="evaluate" and .key==$k) | .value'; }
AUC="$(metric auc)"
ACC="$(metric accuracy)"
MODEL="$(mp get steps "$RUN" -o json | jq -r '.[] | select(.name=="train") | .outputs_dir + "/model.json"')"
SOURCE="the metrics recorded for run $RUN"
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
VERSION="$(mp models get breast-cancer -o json | jq -r --arg r "$RUN" '.model_versions[] | select(.run_id==$r) | .version')"
REG="registered as breast-cancer version ${VERSION:-?}"
if [ -z "$VERSION" ]; then # register.ifChanged: the same bytes as the latest version
    VERSION="$(mp models get breast-cancer -o json | jq -r '[.model_versions[] | .version | tonumber] | max')"
    REG="unchanged, so not registered again (register.ifChanged): breast-cancer version $VERSION"
fi
URI="$(mp models get breast-cancer -o json | jq -r --arg v "$VERSION" '.model_versions[] | select(.version==$v) | .source')"
echo
mp models get breast-cancer
echo
echo "demo: test AUC $AUC2 (≥ $MIN_AUC), accuracy $ACC2; $REG; model at ${URI:-?} (run $RUN)"

# Serve the new version as a Deployment and ask it for one prediction.
echo
echo "demo: serving breast-cancer version ${VERSION} as Deployment breast-cancer-demo"
cat >"$DEP" <<YAML
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: breast-cancer-demo}
spec:
  model: {name: breast-cancer, version: ${VERSION}}
  requestLog: {sampleRate: 1}
YAML
mp apply -f "$DEP"
# (the binary itself, not the mp function: $! must be the server's pid for the kill below)
"$BIN" --home "$HOME_DIR" serve deployment/breast-cancer-demo --listen 127.0.0.1:0 >"$OUT.serve" 2>"$OUT.serve.err" &
SERVE_PID=$!
URL=
for _ in $(seq 100); do
    URL="$(sed -n 's/^mlplane serve listening on \(http:[^ ]*\) .*/\1/p' "$OUT.serve")"
    [ -n "$URL" ] && curl -sf "$URL/v2/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
if [ -z "$URL" ] || ! curl -sf "$URL/v2/health/ready" >/dev/null 2>&1; then
    echo "demo: FAILED: the deployment did not become ready:" >&2
    cat "$OUT.serve" "$OUT.serve.err" >&2
    exit 1
fi
head -n 1 "$OUT.serve"
ROW="$(sed -n 2p examples/data/breast_cancer.csv | cut -d, -f1-30)"
BODY='{"id":"demo-1","inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP64","data":['"$ROW"']}]}'
echo "demo: POST $URL/v2/models/breast-cancer-demo/infer (the first row of examples/data/breast_cancer.csv)"
if ! ANSWER="$(curl -sf -XPOST "$URL/v2/models/breast-cancer-demo/infer" -H 'Content-Type: application/json' -d "$BODY")"; then
    echo "demo: FAILED: the inference request failed" >&2
    exit 1
fi
echo "$ANSWER"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || true
SERVE_PID=
echo "demo: the request is in $HOME_DIR/serving/breast-cancer-demo/requests.log; see docs/serving-rollout.md for canaries and autoscaling"
