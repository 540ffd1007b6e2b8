#!/bin/bash
# mlplane serve of registry references resolved through a server (--server URL),
# as a pod with no home serves them, and the server's one-file model endpoints:
# GET /api/v1/models/NAME/versions/V/model.json and .../aliases/A/model.json
# (and model.ubj). Versions 1 and 2 of model bc come from a pipeline; version 3
# is registered through the MLflow REST API from a .ubj file, version 4 from a
# folder holding it. Each served version answers what the file served locally
# answers; the endpoint converts .ubj to JSON through XGBoost.
. "$(dirname "$0")/lib.sh"

register_bc 10 40
S1=$(bc_source 1); S2=$(bc_source 2)
mkdir -p "$T_DIR/ubj"
mlp xgb train --train "$MLPLANE_SRC/examples/data/breast_cancer.csv" --rounds 20 --max-depth 3 \
  --model "$T_DIR/ubj/model.ubj" --quiet || fail "training a .ubj model"
start_server
api() { curl -sf -XPOST "$SERVER_URL/api/2.0/mlflow/$1" -d "$2" >/dev/null || fail "POST $1"; }
api model-versions/create "{\"name\": \"bc\", \"source\": \"$T_DIR/ubj/model.ubj\"}"
api model-versions/create "{\"name\": \"bc\", \"source\": \"$T_DIR/ubj\"}"
api registered-models/alias '{"name": "bc", "alias": "champion", "version": "1"}'
BODY=$(cat "$T_DIR/one.json")
export -n MLPLANE_HOME # the served side has no home: everything comes from the server
HOMELESS="$T_DIR/nohome"

# predict URL: the prediction of one.json at URL's model bc
predict() { curl -sf -XPOST "$1/v2/models/bc/infer" -d "$BODY" | jq -c '.outputs[0].data'; }

# --- the endpoint ---
M="$SERVER_URL/api/v1/models/bc"
curl -sf -D "$T_DIR/h" -o "$T_DIR/v1.json" "$M/versions/1/model.json" || fail "GET versions/1/model.json"
cmp -s "$T_DIR/v1.json" "$S1" || fail "version 1's model.json is not its registered file"
assert_contains "$(tr -d '\r' <"$T_DIR/h")" "X-Model-Version: 1" "model.json says its version"
curl -sf -D "$T_DIR/h" -o "$T_DIR/champion.json" "$M/aliases/champion/model.json" || fail "GET aliases/champion/model.json"
cmp -s "$T_DIR/champion.json" "$S1" || fail "the alias's model.json is not version 1's file"
assert_contains "$(tr -d '\r' <"$T_DIR/h")" "X-Model-Version: 1" "an alias's model.json says its version"
curl -sf -D "$T_DIR/h" -o "$T_DIR/latest.json" "$M/versions/latest/model.json" || fail "GET versions/latest/model.json"
assert_contains "$(tr -d '\r' <"$T_DIR/h")" "X-Model-Version: 4" "latest is version 4"
curl -sf -o "$T_DIR/v3.json" "$M/versions/3/model.json" || fail "GET versions/3/model.json (.ubj registered)"
jq -e .learner "$T_DIR/v3.json" >/dev/null || fail "version 3 (.ubj) did not come back as an XGBoost JSON model"
curl -sf -o "$T_DIR/v3.ubj" "$M/versions/3/model.ubj" || fail "GET versions/3/model.ubj"
cmp -s "$T_DIR/v3.ubj" "$T_DIR/ubj/model.ubj" || fail "version 3's model.ubj is not its registered file"
curl -sf -o "$T_DIR/v1.ubj" "$M/versions/1/model.ubj" || fail "GET versions/1/model.ubj (.json registered)"
ok "model.json and model.ubj of versions, aliases and latest; .ubj converted to JSON and back"

code() { curl -s -o "$T_DIR/err.json" -w '%{http_code}' "$@"; }
assert_eq "$(code "$M/versions/9/model.json")" "404" "a missing version"
assert_eq "$(jq -r .error_code "$T_DIR/err.json")" "RESOURCE_DOES_NOT_EXIST" "a missing version's error code"
assert_eq "$(code "$SERVER_URL/api/v1/models/nobody/versions/1/model.json")" "404" "a missing model"
assert_eq "$(code "$M/aliases/nobody/model.json")" "404" "a missing alias"
assert_eq "$(code "$M/versions/x1/model.json")" "400" "a malformed version"
assert_eq "$(code -XPOST "$M/versions/1/model.json")" "405" "POST model.json"
assert_contains "$(curl -s -D - -o /dev/null -XDELETE "$M/versions/1/model.json" | tr -d '\r')" "Allow: GET" "405's Allow"
assert_eq "$(code -I "$M/versions/1/model.json")" "200" "HEAD model.json"
ok "404 for a missing model, version or alias (MLflow's shape), 400 for a malformed version, 405 with Allow"

# --- mlplane serve FILE of what the endpoint sent, and serve --server ---
start_serve "$T_DIR/v3.json" --listen 127.0.0.1:0 --name bc
LOCAL3=$(predict "$SERVE_URL")
stop_server "$SERVE_PID" || fail "serve FILE exit status"
start_serve "$T_DIR/ubj/model.ubj" --listen 127.0.0.1:0 --name bc
assert_eq "$(predict "$SERVE_URL")" "$LOCAL3" "model.json of a .ubj version predicts as the .ubj file"
stop_server "$SERVE_PID" || fail "serve .ubj exit status"

# serves REF VERSION LOCAL_FILE [ARGS]
serves() {
  local ref=$1 v=$2 file=$3; shift 3
  start_serve "$file" --listen 127.0.0.1:0 --name bc
  local want; want=$(predict "$SERVE_URL")
  stop_server "$SERVE_PID" || fail "$ref: serve FILE exit status"
  TMPDIR="${SERVE_TMP:-$T_DIR/tmp}" start_serve "$ref" --server "$SERVER_URL" --listen 127.0.0.1:0 --home "$HOMELESS" "$@"
  assert_contains "$(head -1 "$SERVE_OUT")" "(model bc version $v," "$ref: first line"
  curl -sf -D "$T_DIR/h" -o "$T_DIR/r.json" -XPOST "$SERVE_URL/v2/models/bc/versions/$v/infer" -d "$BODY" || fail "$ref: infer"
  assert_eq "$(jq -r '.model_name + " " + .model_version' "$T_DIR/r.json")" "bc $v" "$ref: model in the response"
  assert_eq "$(jq -c '.outputs[0].data' "$T_DIR/r.json")" "$want" "$ref: the prediction of the file served locally"
  stop_server "$SERVE_PID" || fail "$ref: exit status"
}
mkdir -p "$T_DIR/tmp"
serves models:/bc/1 1 "$S1"
serves models:/bc@champion 1 "$S1"
serves models:/bc/2 2 "$S2"
serves models:/bc/latest 4 "$T_DIR/ubj/model.ubj"
serves models:/bc/3 3 "$T_DIR/ubj/model.ubj" --model-dir "$T_DIR/kept"
assert_eq "$(ls "$T_DIR/tmp")" "" "the downloaded models were removed at exit"
# replicas' sockets go under TMPDIR without a home: a short one, wherever the checkout lives
SERVE_TMP=$(mktemp -d /tmp/mlplane-it.XXXXXX)
serves models:/bc@champion 1 "$S1" --replicas 2
assert_eq "$(ls "$SERVE_TMP" | grep mlplane-model || true)" "" "the models the replicas downloaded were removed at exit"
rm -rf "$SERVE_TMP"
[ -f "$T_DIR/kept/model.json" ] || fail "--model-dir keeps the model"
[ ! -e "$HOMELESS" ] || fail "serve --server made a home"
ok "serve models:/bc/1, @champion, /2, /latest, /3 (.ubj) and @champion --replicas 2 --server: the versions' own predictions, no home"

rc=0; out=$(mlp serve models:/bc/9 --server "$SERVER_URL" --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "a missing version's exit status"
assert_contains "$out" "models:/bc/9: Model Version (name=bc, version=9) not found" "a missing version's message"
rc=0; out=$(mlp serve models:/bc@nobody --server "$SERVER_URL" --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "a missing alias's exit status"
assert_contains "$out" "no alias nobody" "a missing alias's message"
rc=0; out=$(mlp serve models:/bc --server "$SERVER_URL" 2>&1) || rc=$?
assert_eq "$rc" "2" "a malformed reference is a usage error"
stop_server "$SERVER_PID" || fail "mlplane server exit status"
rc=0; out=$(mlp serve models:/bc/1 --server "$SERVER_URL" --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "an unreachable server's exit status"
assert_contains "$out" "cannot reach the server at $SERVER_URL" "an unreachable server's message"
ok "a missing version or alias, a malformed reference and an unreachable server are refused with the reason"
finish
