# lib.sh — shared helpers for the integration tests: each test runs the real
# mlplane binary ($MLPLANE) against a fresh home in a scratch directory.
set -euo pipefail

: "${MLPLANE:?set MLPLANE to the mlplane binary}"
: "${MLPLANE_SRC:?set MLPLANE_SRC to the source tree}"
T_NAME=$(basename "$0" .sh)
mkdir -p "${MLPLANE_TEST_TMP:-/tmp}"
T_DIR=$(mktemp -d "${MLPLANE_TEST_TMP:-/tmp}/it-$T_NAME.XXXXXX")
export MLPLANE_HOME="$T_DIR/home"
export MLPLANE_KILL_GRACE_MS=${MLPLANE_KILL_GRACE_MS:-1000}
mkdir -p "$MLPLANE_HOME" "$T_DIR/bin"
# A copy of sleep under the test's own name, so `pgrep -f "$NAP"` finds exactly this test's sleepers.
NAP="$T_DIR/bin/nap"
cp "$(command -v sleep)" "$NAP"
nap_running() { pgrep -f "$T_DIR/bin/[n]ap" >/dev/null; }
T_PASSED=0

cleanup() {
  local rc=$?
  # never leave a process of this test behind: servers it started, then anything
  # whose command line names its directory
  for pid in ${ALL_SERVER_PIDS:-}; do kill -KILL "$pid" 2>/dev/null || true; done
  pkill -KILL -f "$T_DIR" 2>/dev/null || true
  # a process killed a moment ago may still be making files as rm walks the folder: try again
  if [ $rc -eq 0 ]; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do rm -rf "$T_DIR" 2>/dev/null && break; sleep 0.2; done
    [ ! -e "$T_DIR" ] || rm -rf "$T_DIR"
  else
    echo "  (kept $T_DIR for inspection)"
  fi
}
trap cleanup EXIT

fail() { echo "FAIL [$T_NAME]: $*" >&2; exit 1; }
ok() { T_PASSED=$((T_PASSED + 1)); echo "ok - $*"; }
mlp() { "$MLPLANE" "$@"; }

assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
assert_contains() { case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1";; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "$3: '$2' unexpectedly in: $1";; esac; }

# run_state RUN -> state of the run
run_state() { mlp get runs -o json | jq -r --arg id "$1" '.[] | select(.id==$id) | .state'; }
# step_field RUN STEP FIELD
step_field() { mlp get steps "$1" -o json | jq -r --arg s "$2" --arg f "$3" '.[] | select(.name==$s) | .[$f]'; }

# wait_for "description" SECONDS command...: polls until the command succeeds
wait_for() {
  local what=$1 secs=$2; shift 2
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || fail "timed out waiting for $what"
    sleep 0.1
  done
}

finish() { echo "$T_PASSED passed, 0 failed"; }

# start_server [ARGS...]: starts `mlplane server --listen 127.0.0.1:0 ARGS` in the background
# (home: $MLPLANE_HOME), sets SERVER_PID and SERVER_URL (from its first line), waits for /readyz.
# With MLPLANE_TEST_AUTH=1 (the it_auth.* variants) the server runs with --auth --init-admin and
# every curl and mlplane of the test sends its admin token ($T_DIR/.curlrc, MLPLANE_TOKEN).
start_server() {
  local out="$T_DIR/server.$RANDOM" auth=()
  [ -z "${MLPLANE_TEST_AUTH:-}" ] || auth=(--init-admin)
  "$MLPLANE" server --listen 127.0.0.1:0 "${auth[@]}" "$@" >"$out.out" 2>"$out.err" &
  SERVER_PID=$!
  ALL_SERVER_PIDS="${ALL_SERVER_PIDS:-} $SERVER_PID"
  SERVER_OUT="$out.out"
  wait_for "the server's first line" 10 grep -q "listening on" "$out.out"
  SERVER_URL=$(sed -n 's/^mlplane server listening on \(http:[^ ]*\) .*/\1/p' "$out.out" | head -1)
  [ -n "$SERVER_URL" ] || fail "no URL in the server's first line: $(cat "$out.out")"
  if [ -n "${MLPLANE_TEST_AUTH:-}" ] && head -1 "$out.out" | grep -q '^mlp_'; then
    export MLPLANE_TOKEN CURL_HOME="$T_DIR"
    MLPLANE_TOKEN=$(head -1 "$out.out")
    printf 'header = "Authorization: Bearer %s"\n' "$MLPLANE_TOKEN" >"$T_DIR/.curlrc"
  fi
  wait_for "the server to be ready" 10 curl -sf "$SERVER_URL/readyz"
}
# stop_server PID: SIGTERM, then waits for it; returns its exit status.
stop_server() {
  kill -TERM "$1" 2>/dev/null || true
  local rc=0
  wait "$1" || rc=$?
  return $rc
}

# start_serve MODEL [ARGS...]: starts `mlplane serve MODEL --listen 127.0.0.1:0 ARGS` in the
# background, sets SERVE_PID, SERVE_URL (from its first line) and SERVE_OUT, waits for readiness.
start_serve() {
  local out="$T_DIR/serve.$RANDOM"
  "$MLPLANE" serve "$@" >"$out.out" 2>"$out.err" &
  SERVE_PID=$!
  ALL_SERVER_PIDS="${ALL_SERVER_PIDS:-} $SERVE_PID"
  SERVE_OUT="$out.out"
  SERVE_ERR="$out.err"
  wait_for "mlplane serve's first line" 20 grep -q "listening on" "$out.out"
  SERVE_URL=$(sed -n 's/^mlplane serve listening on \([^ ]*\) .*/\1/p' "$out.out" | head -1)
  [ -n "$SERVE_URL" ] || fail "no URL in mlplane serve's first line: $(cat "$out.out")"
  case "$SERVE_URL" in
    unix:*) wait_for "mlplane serve to be ready" 10 curl -sf --unix-socket "${SERVE_URL#unix:}" http://x/v2/health/ready ;;
    *) wait_for "mlplane serve to be ready" 10 curl -sf "$SERVE_URL/v2/health/ready" ;;
  esac
}

# register_bc ROUNDS...: registered model bc, one version per ROUNDS (versions 1, 2,
# ... in that order), each trained on the breast-cancer data (max depth 3) by a
# pipeline step with `register:` (so the mlplane binary's folder goes on PATH).
# Then, for the data's first row: $T_DIR/one.csv, $T_DIR/one.json (an OIP request,
# FP32), BC_ROW (its 30 features) and P1, P2, ... (each version's prediction from
# `mlplane xgb predict`). Fails when two versions predict the same: a test could
# not tell them apart.
register_bc() {
  export PATH="$(dirname "$MLPLANE"):$PATH"
  local data="$MLPLANE_SRC/examples/data/breast_cancer.csv" r i j
  cat >"$T_DIR/register-bc.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata:
  name: bc-register
spec:
  params:
    rounds: "10"
  steps:
    - name: train
      command: [mlplane, xgb, train, --train, "{{inputs.data}}", --rounds, "{{params.rounds}}", --max-depth, "3", --model, model.json, --quiet]
      inputs:
        - {name: data, path: $data}
      outputs:
        - {name: model, path: model.json}
      register: {model: bc, artifact: model}
YAML
  for r in "$@"; do mlp run "$T_DIR/register-bc.yaml" -p rounds="$r" >/dev/null || fail "training bc with $r rounds"; done
  sed -n 2p "$data" >"$T_DIR/one.csv"
  BC_ROW=$(cut -d, -f1-30 "$T_DIR/one.csv")
  printf '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":[%s]}]}' "$BC_ROW" >"$T_DIR/one.json"
  for i in $(seq 1 $#); do
    printf -v "P$i" '%s' "$(mlp xgb predict --model "$(bc_source "$i")" --data "$T_DIR/one.csv")"
    for j in $(seq 1 $((i - 1))); do
      local a="P$i" b="P$j"
      [ "${!a}" != "${!b}" ] || fail "versions $j and $i of bc predict the same (${!a}): the test cannot tell them apart"
    done
  done
}
# artifact_file URI: the file an mlflow-artifacts:/PATH source names (HOME/artifacts/PATH,
# where the artifact proxy serves it from); any other source as it is.
artifact_file() { case "$1" in mlflow-artifacts:/*) echo "$MLPLANE_HOME/artifacts/${1#mlflow-artifacts:/}" ;; *) echo "$1" ;; esac; }
# bc_uri V: the source URI of version V of the registered model bc; bc_source V: its file.
bc_uri() { mlp models get bc -o json | jq -r --arg v "$1" '.model_versions[] | select(.version == $v) | .source'; }
bc_source() { artifact_file "$(bc_uri "$1")"; }
