#!/bin/bash
# mlplane serve of registry references: a pipeline with `register:` makes
# versions 1 and 2 of model bc (trained with different rounds), an alias is set
# through the MLflow REST API of `mlplane server`, and models:/bc/1,
# models:/bc@champion and models:/bc/latest each serve the right version: its
# number in model_version and X-Model-Version, and its own predictions.
. "$(dirname "$0")/lib.sh"

register_bc 10 40
S1=$(bc_source 1)
start_server
curl -sf -XPOST "$SERVER_URL/api/2.0/mlflow/registered-models/alias" \
  -d '{"name": "bc", "alias": "champion", "version": "1"}' >/dev/null || fail "setting the alias"
stop_server "$SERVER_PID" || fail "mlplane server exit status"

BODY=$(cat "$T_DIR/one.json")

# serves REF VERSION PREDICTION
serves() {
  start_serve "$1" --listen 127.0.0.1:0
  assert_contains "$(head -1 "$SERVE_OUT")" "(model bc version $2," "$1: first line"
  curl -sf -D "$T_DIR/h" -o "$T_DIR/r.json" -XPOST "$SERVE_URL/v2/models/bc/versions/$2/infer" -d "$BODY" || fail "$1: infer"
  assert_eq "$(jq -r '.model_name + " " + .model_version' "$T_DIR/r.json")" "bc $2" "$1: model in the response"
  assert_contains "$(tr -d '\r' <"$T_DIR/h")" "X-Model-Version: $2" "$1: X-Model-Version"
  assert_eq "$(grep -o '"data":\[[^]]*\]' "$T_DIR/r.json")" "\"data\":[$3]" "$1: the version's own prediction"
  assert_eq "$(curl -sf "$SERVE_URL/v2/models/bc" | jq -c .versions)" "[\"$2\"]" "$1: versions in the metadata"
  stop_server "$SERVE_PID" || fail "$1: exit status"
}
serves models:/bc/1 1 "$P1"
serves models:/bc@champion 1 "$P1"
serves models:/bc/2 2 "$P2"
serves models:/bc/latest 2 "$P2"
ok "models:/bc/1, models:/bc@champion, models:/bc/2 and models:/bc/latest serve their versions"

for ref in models:/bc/9 models:/bc@nobody models:/other/1; do
  rc=0; out=$(mlp serve "$ref" --listen 127.0.0.1:0 2>&1) || rc=$?
  assert_eq "$rc" "1" "$ref: exit status"
done
assert_contains "$(mlp serve models:/bc@nobody 2>&1)" "registered model bc has no alias nobody" "unknown alias"
rc=0; out=$(mlp serve models:/bc 2>&1) || rc=$?
assert_eq "$rc" "2" "a malformed reference is a usage error"
assert_contains "$out" "models:/NAME/VERSION or models:/NAME@ALIAS" "malformed reference message"
rm "$S1"
assert_contains "$(mlp serve models:/bc/1 2>&1)" "does not exist" "a version whose file is gone"
ok "unknown versions, aliases and models, a malformed reference and a missing file are refused with the reason"
finish
