#!/bin/bash
# A pipeline run is an MLflow run: its experiment is named after the pipeline,
# params are logged, metrics.json values become metrics (arrays: histories), the
# status follows the run, steps see MLFLOW_* variables, and `register:` creates
# model versions (v1, then v2 on the next run) visible to the CLI and MLflow clients.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: tracked}
spec:
  params: {lr: "0.3", depth: "5"}
  steps:
    - name: train
      script: |
        env | grep '^MLFLOW_' | sort > mlflow-env.txt
        echo '{"loss": [0.9, 0.5, 0.25], "acc": 0.875, "a/../b": 1}' > metrics.json
        echo model > model.bin
      outputs:
        - {name: model, path: model.bin}
        - {name: env, path: mlflow-env.txt}
      register: {model: tracked-model, artifact: model}
YAML
r1=$(mlp run "$T_DIR/p.yaml" | head -1)
assert_eq "$(run_state "$r1")" "Succeeded" "run"
envf="$(step_field "$r1" train outputs_dir)/mlflow-env.txt"
grep -q "^MLFLOW_RUN_ID=$r1$" "$envf" || fail "MLFLOW_RUN_ID: $(cat "$envf")"
grep -q "^MLFLOW_EXPERIMENT_ID=[0-9]*$" "$envf" || fail "MLFLOW_EXPERIMENT_ID: $(cat "$envf")"
ok "steps see MLFLOW_RUN_ID and MLFLOW_EXPERIMENT_ID"

mlp get experiments | grep -q " tracked " || fail "experiment named after the pipeline: $(mlp get experiments)"
ok "experiment named after the pipeline"

r2=$(mlp run "$T_DIR/p.yaml" -p lr=0.1 | head -1)
mlp models list | grep -q "^tracked-model  *2 " || fail "models list: $(mlp models list)"
v=$(mlp models get tracked-model -o json)
assert_eq "$(echo "$v" | jq -r '.model_versions | length')" "2" "two versions"
assert_eq "$(echo "$v" | jq -r '.model_versions[] | select(.version=="1") | .run_id')" "$r1" "v1 from the first run"
assert_eq "$(echo "$v" | jq -r '.model_versions[] | select(.version=="2") | .run_id')" "$r2" "v2 from the second run"
src=$(artifact_file "$(echo "$v" | jq -r '.model_versions[] | select(.version=="1") | .source')")
[ -f "$src" ] || fail "version source is the artifact file: $src"
mlp describe run "$r2" | grep -q 'ModelRegistered .*version 2' || fail "registration event"
ok "register: creates v1 then v2, with run ids and the artifact as source"

start_server
api="$SERVER_URL/api/2.0/mlflow"
run=$(curl -sf "$api/runs/get?run_id=$r1")
assert_eq "$(echo "$run" | jq -r .run.info.status)" "FINISHED" "MLflow status"
assert_eq "$(echo "$run" | jq -r '.run.data.params[] | select(.key=="lr") | .value')" "0.3" "param lr"
assert_eq "$(echo "$run" | jq -r '.run.data.metrics[] | select(.key=="acc") | .value')" "0.875" "metric acc"
assert_eq "$(echo "$run" | jq -r '.run.data.metrics[] | select(.key=="loss") | .value')" "0.25" "latest loss"
h=$(curl -sf "$api/metrics/get-history?run_id=$r1&metric_key=train/loss")
assert_eq "$(echo "$h" | jq -r '[.metrics[] | .step] | join(",")')" "0,1,2" "history steps (train/loss)"
assert_eq "$(echo "$h" | jq -r '[.metrics[] | .value] | join(",")')" "0.9,0.5,0.25" "history values"
echo "$run" | jq -e '[.run.data.metrics[] | select(.key=="a/../b")] | length == 0' >/dev/null ||
  fail "a metric name MLflow refuses was logged"
ok "MLflow sees the run's params, metrics and metric history (names it refuses left out)"

al=$(curl -sf "$api/artifacts/list?run_id=$r1")
assert_eq "$(echo "$al" | jq -c '[.files[] | {path, is_dir}]')" '[{"path":"train","is_dir":true}]' "artifacts/list: the step"
al=$(curl -sf "$api/artifacts/list?run_id=$r1&path=train")
assert_eq "$(echo "$al" | jq -r '[.files[] | .path] | join(",")')" "train/mlflow-env.txt,train/model.bin" "artifacts/list: its outputs"
root=$(echo "$al" | jq -r .root_uri)
curl -sf "$SERVER_URL/api/2.0/mlflow-artifacts/artifacts/${root#mlflow-artifacts:/}/train/model.bin" | grep -q '^model$' ||
  fail "the artifact proxy serves a step output under $root"
ok "the pipeline's MLflow run lists its steps' outputs (STEP/PATH) and the proxy serves them"

p=$(curl -sf "$SERVER_URL/api/v1/pipelines")
assert_eq "$(echo "$p" | jq -r '.[] | select(.name=="tracked") | .runs')" "2" "pipelines list counts runs"
assert_eq "$(echo "$p" | jq -r '.[] | select(.name=="tracked") | .latest_run')" "$r2" "latest run"
ok "GET /api/v1/pipelines"

found=$(curl -sf -X POST "$api/runs/search" -H 'Content-Type: application/json' \
  -d "{\"experiment_ids\":[\"$(echo "$run" | jq -r .run.info.experiment_id)\"],\"filter\":\"params.lr = '0.1'\"}")
assert_eq "$(echo "$found" | jq -r '.runs[0].info.run_id')" "$r2" "runs/search by param finds the second run"
mv=$(curl -sf "$api/model-versions/get?name=tracked-model&version=2")
assert_eq "$(echo "$mv" | jq -r .model_version.run_id)" "$r2" "registry over HTTP"
ok "runs/search and the registry over HTTP"

# runs submitted to the server give their steps the server as MLFLOW_TRACKING_URI
out=$(mlp --server "$SERVER_URL" run "$T_DIR/p.yaml" -p lr=0.2 2>&1) || fail "run through the server failed: $out"
r4=$(printf '%s\n' "$out" | head -1)
envf="$(step_field "$r4" train outputs_dir)/mlflow-env.txt"
grep -q "^MLFLOW_TRACKING_URI=$SERVER_URL$" "$envf" || fail "MLFLOW_TRACKING_URI: $(cat "$envf")"
grep -q "^MLFLOW_RUN_ID=$r4$" "$envf" || fail "MLFLOW_RUN_ID via the server"
ok "steps of runs submitted to the server get MLFLOW_TRACKING_URI"

# a failed run is FAILED in MLflow
cat > "$T_DIR/f.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: tracked}
spec:
  steps: [{name: boom, command: ["false"]}]
YAML
r3=$( (mlp run "$T_DIR/f.yaml" || true) | head -1)
assert_eq "$(curl -sf "$api/runs/get?run_id=$r3" | jq -r .run.info.status)" "FAILED" "failed run"
ok "a failed pipeline run is FAILED in MLflow"
stop_server "$SERVER_PID" || true
# a deleted experiment blocks its pipeline: the message names it and says how to go on
cat > "$T_DIR/gone.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata:
  name: gone
spec:
  steps:
    - {name: a, command: ["true"]}
YAML
g1=$(mlp run "$T_DIR/gone.yaml" | head -1)
assert_eq "$(run_state "$g1")" "Succeeded" "first run"
start_server
exp=$(curl -sf "$SERVER_URL/api/2.0/mlflow/experiments/get-by-name?experiment_name=gone" | jq -r .experiment.experiment_id)
curl -sf -X POST -H 'Content-Type: application/json' -d "{\"experiment_id\":\"$exp\"}" \
  "$SERVER_URL/api/2.0/mlflow/experiments/delete" >/dev/null || fail "delete the experiment"
want="experiment \"gone\" (id $exp), where this pipeline's runs are tracked, is deleted; restore it (POST /api/2.0/mlflow/experiments/restore {\"experiment_id\":\"$exp\"} to mlplane server) or give the pipeline another name"
set +e
out=$(mlp run "$T_DIR/gone.yaml" 2>&1); rc=$?
set -e
[ "$rc" -ne 0 ] || fail "run in a deleted experiment succeeded"
assert_contains "$out" "$want (metadata.name at $T_DIR/gone.yaml:4:9)" "local run: the experiment, how to restore, where to rename"
assert_not_contains "$out" "must be in the 'active' state" "not MLflow's bare message"
set +e
out=$(cd "$T_DIR" && mlp --server "$SERVER_URL" run gone.yaml 2>&1); rc=$?
set -e
[ "$rc" -ne 0 ] || fail "run --server in a deleted experiment succeeded"
assert_contains "$out" "$want (metadata.name at gone.yaml:4:9)" "run --server: the client's file name"
curl -sf -X POST -H 'Content-Type: application/json' -d "{\"experiment_id\":\"$exp\"}" \
  "$SERVER_URL/api/2.0/mlflow/experiments/restore" >/dev/null || fail "restore the experiment"
g2=$(mlp run "$T_DIR/gone.yaml" | head -1)
assert_eq "$(run_state "$g2")" "Succeeded" "run after the restore"
stop_server "$SERVER_PID"
ok "a deleted experiment: the run is refused naming it, how to restore it, and metadata.name's place"
finish
