#!/bin/bash
# Registered model versions own their files: a pipeline with `register:` makes
# version 1 of model bc, its source is a file in the home's content-addressed
# artifact store (HOME/artifacts/sha256/HE/HEX/model.json, HEX the SHA-256 of its
# bytes), and once the run folder is deleted, mlplane serve models:/bc/1 still
# answers an OIP v2 infer with the version's own prediction. The source is an
# mlflow-artifacts:/ URI the proxy serves; models:/NAME/STAGE resolves;
# register.ifChanged skips unchanged bytes.
. "$(dirname "$0")/lib.sh"

register_bc 10
S1=$(bc_source 1)
hex=$(sha256sum "$S1" | cut -d' ' -f1)
assert_eq "$(bc_uri 1)" "mlflow-artifacts:/sha256/${hex:0:2}/$hex/model.json" "the version's source URI"
[ -f "$MLPLANE_HOME/artifacts/sha256/${hex:0:2}/$hex/model.json" ] || fail "the stored file"
ok "a registered version's source is mlflow-artifacts:/sha256/HE/HEX/model.json (HOME/artifacts/...)"

run=$(mlp get runs -o json | jq -r '.[0].id')
[ -d "$MLPLANE_HOME/runs/$run" ] || fail "run folder $run not found"
rm -rf "$MLPLANE_HOME/runs/$run"
start_serve models:/bc/1 --listen 127.0.0.1:0
curl -sf -o "$T_DIR/r.json" -XPOST "$SERVE_URL/v2/models/bc/versions/1/infer" -d @"$T_DIR/one.json" || fail "infer"
assert_eq "$(grep -o '"data":\[[^]]*\]' "$T_DIR/r.json")" "\"data\":[$P1]" "the version's own prediction"
stop_server "$SERVE_PID" || fail "serve exit status"
ok "models:/bc/1 serves after its run folder is deleted"

# The artifact proxy serves the version's source; models:/NAME/STAGE resolves.
start_server
api="$SERVER_URL/api/2.0"
curl -sf -o "$T_DIR/dl.json" "$api/mlflow-artifacts/artifacts/sha256/${hex:0:2}/$hex/model.json" || fail "proxy download"
cmp -s "$T_DIR/dl.json" "$S1" || fail "the proxy serves the stored bytes"
u=$(curl -sf "$api/mlflow/model-versions/get-download-uri?name=bc&version=1" | jq -r .artifact_uri)
assert_eq "$u" "$(bc_uri 1)" "get-download-uri"
curl -sf -XPOST "$api/mlflow/model-versions/transition-stage" \
  -d '{"name":"bc","version":"1","stage":"Production","archive_existing_versions":false}' >/dev/null || fail "transition"
stop_server "$SERVER_PID" || fail "server exit status"
start_serve models:/bc/Production --listen 127.0.0.1:0
curl -sf -o "$T_DIR/r.json" -XPOST "$SERVE_URL/v2/models/bc/versions/1/infer" -d @"$T_DIR/one.json" || fail "infer by stage"
stop_server "$SERVE_PID" || fail "serve exit status"
out=$(mlp serve models:/bc/Staging --listen 127.0.0.1:0 2>&1) && fail "Staging has no version, yet: $out"
assert_contains "$out" "no version in stage Staging" "stage error"
ok "the proxy serves the source; models:/bc/Production resolves to version 1, an empty stage says so"

# register.ifChanged: an identical rerun (a cache hit) registers nothing new;
# without it, MLflow's rule: a new version per registration.
cat >"$T_DIR/ic.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: ic}
spec:
  steps:
    - name: train
      script: echo weights > model.bin
      outputs: [{name: model, path: model.bin}]
      register: {model: ic, artifact: model, ifChanged: true}
YAML
r1=$(mlp run "$T_DIR/ic.yaml" | head -1)
r2=$(mlp run "$T_DIR/ic.yaml" | head -1)
assert_eq "$(mlp models get ic -o json | jq '.model_versions | length')" "1" "one version with ifChanged"
assert_contains "$(mlp describe run "$r2")" "ModelUnchanged" "the skip is an event"
sed -i 's/ifChanged: true/ifChanged: false/' "$T_DIR/ic.yaml"
mlp run "$T_DIR/ic.yaml" >/dev/null
assert_eq "$(mlp models get ic -o json | jq '.model_versions | length')" "2" "a new version without ifChanged"
sed -i 's/ifChanged: false/ifChanged: maybe/' "$T_DIR/ic.yaml"
out=$(mlp validate "$T_DIR/ic.yaml" 2>&1) && fail "ifChanged: maybe accepted"
assert_contains "$out" "ic.yaml:9:57:" "position of a bad ifChanged"
ok "register.ifChanged registers only changed bytes (ModelUnchanged event); bad values get a position"
finish
