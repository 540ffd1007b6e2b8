#!/usr/bin/env bash
# lineage.sh — `mlplane lineage`: a two-step pipeline (prepare the data, train an
# XGBoost model that is registered) and a second one that reads version 1's file
# and registers model child; lineage models:/bc/1 names the run, spec hash, params,
# the steps upstream of the registering one with their inputs and outputs by
# content hash, the data's source; models:/child/1 has bc/1 as parent; -o dot is a
# digraph; lineage artifact HASH of the data finds both models; also through --server.
source "$(dirname "$0")/lib.sh"
export PATH="$(dirname "$MLPLANE"):$PATH"
data="$MLPLANE_SRC/examples/data/breast_cancer.csv"
cat >"$T_DIR/bc.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: bc-lineage}
spec:
  params:
    rounds: "5"
  steps:
    - name: prepare
      command: [sh, -c, "cp {{inputs.raw}} train.csv"]
      inputs:
        - {name: raw, path: $data}
      outputs:
        - {name: train, path: train.csv}
    - name: train
      command: [mlplane, xgb, train, --train, "{{inputs.data}}", --rounds, "{{params.rounds}}", --max-depth, "2", --model, model.json, --quiet]
      inputs:
        - {name: data, path: "{{steps.prepare.outputs.train}}"}
      outputs:
        - {name: model, path: model.json}
      register: {model: bc, artifact: model}
YAML
run=$(mlp run "$T_DIR/bc.yaml" -p rounds=7 | head -1)
[ "$(run_state "$run")" = Succeeded ] || fail "the pipeline run: $(mlp describe run "$run")"
mlp lineage models:/bc/1 -o json >"$T_DIR/l.json" || fail "lineage models:/bc/1"
assert_eq "$(jq -r .run.id "$T_DIR/l.json")" "$run" "the run that registered it"
assert_eq "$(jq -r .run.pipeline "$T_DIR/l.json")" "bc-lineage" "its pipeline"
assert_eq "$(jq -r .run.specHash "$T_DIR/l.json")" "$(sha256sum "$T_DIR/bc.yaml" | cut -c1-64)" "the spec hash is the SHA-256 of the spec file as run"
assert_eq "$(jq -r .run.params.rounds "$T_DIR/l.json")" "7" "its params"
assert_eq "$(jq -r .step "$T_DIR/l.json")" "train" "the registering step"
assert_eq "$(jq -r '[.steps[].name] | sort | join(",")' "$T_DIR/l.json")" "prepare,train" "the steps upstream of it"
h=$(sha256sum "$data" | cut -c1-64)
assert_eq "$(jq -r '.inputs[0].hash' "$T_DIR/l.json")" "$h" "the external input's content hash"
assert_eq "$(jq -r '.inputs[0].path' "$T_DIR/l.json")" "$data" "the external input's source path"
assert_eq "$(jq -r '.steps[] | select(.name=="train") | .inputs[0].fromStep' "$T_DIR/l.json")" "prepare" "the train input comes from step prepare"
assert_eq "$(jq -r '.steps[] | select(.name=="train") | .inputs[0].hash' "$T_DIR/l.json")" "$h" "a copy has the same hash"
model=$(artifact_file "$(jq -r .model.source "$T_DIR/l.json")")
assert_eq "$(jq -r .model.hash "$T_DIR/l.json")" "$(sha256sum "$model" | cut -c1-64)" "the model's hash is its file's"
assert_eq "$(jq -r '.steps[] | select(.name=="train") | .outputs[0].hash' "$T_DIR/l.json")" "$(jq -r .model.hash "$T_DIR/l.json")" "the train step wrote it"
assert_eq "$(jq -r '.parents | length' "$T_DIR/l.json")" "0" "no parents"
ok "lineage models:/bc/1: run, pipeline, spec hash, params, steps, inputs with hashes and sources"

out=$(mlp lineage models:/bc/1) || fail "lineage table"
assert_contains "$out" "Run:        $run (Succeeded)" "table: the run"
assert_contains "$out" "rounds=7" "table: the params"
mlp lineage models:/bc/1 -o dot >"$T_DIR/l.dot" || fail "lineage -o dot"
head -1 "$T_DIR/l.dot" | grep '^digraph lineage {$' >/dev/null || fail "dot: not a digraph: $(head -1 "$T_DIR/l.dot")"
[ "$(tail -1 "$T_DIR/l.dot")" = "}" ] || fail "dot: not closed"
grep -F "\"step:$run/train\" -> \"sha256:$(jq -r .model.hash "$T_DIR/l.json")\";" "$T_DIR/l.dot" >/dev/null || fail "dot: train -> model file edge"
grep -F "\"sha256:$h\" -> \"step:$run/prepare\";" "$T_DIR/l.dot" >/dev/null || fail "dot: data -> prepare edge"
grep -F -- "-> \"models:/bc/1\";" "$T_DIR/l.dot" >/dev/null || fail "dot: the edge to the model"
# every line but the first and last two is a node or an edge statement
bad=$(sed '1,2d;$d' "$T_DIR/l.dot" | grep -v -E '^  "[^"]*"( -> "[^"]*")?( \[[^]]*\])?;$' || true)
[ -z "$bad" ] || fail "dot: malformed lines: $bad"
ok "lineage -o dot is a digraph of data -> steps -> model"

# a second pipeline reads version 1's file and registers child
cat >"$T_DIR/child.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: child}
spec:
  steps:
    - name: refit
      command: [sh, -c, "cp {{inputs.base}} model.json"]
      inputs:
        - {name: base, path: $model}
      outputs:
        - {name: model, path: model.json}
      register: {model: child, artifact: model}
YAML
crun=$(mlp run "$T_DIR/child.yaml" | head -1)
assert_eq "$(mlp lineage models:/child/1 -o json | jq -r '.parents[0] | "\(.name)/\(.version)"')" "bc/1" "child/1's parent"
ok "a version whose step read another version's file has it as parent"

mlp lineage artifact "${h:0:12}" -o json >"$T_DIR/a.json" || fail "lineage artifact"
assert_eq "$(jq -r '[.models[] | "\(.name)/\(.version)"] | sort | join(",")' "$T_DIR/a.json")" "bc/1,child/1" "the models that came from the data"
assert_eq "$(jq -r '[.consumedBy[] | select(.depth==0) | .step] | sort | join(",")' "$T_DIR/a.json")" "prepare,train" "the steps that read it"
assert_contains "$(mlp lineage artifact "$h")" "models:/child/1 (run $crun)" "table: the models"
mlp lineage artifact "$h" -o dot | head -1 | grep '^digraph lineage {$' >/dev/null || fail "artifact dot"
rc=0; out=$(mlp lineage artifact 0123456789abcdef 2>&1) || rc=$?
assert_eq "$rc" "1" "an unknown hash exits 1"
assert_contains "$out" "no step read or wrote an artifact whose hash starts with 0123456789abcdef" "it says so"
rc=0; out=$(mlp lineage artifact xyz 2>&1) || rc=$?
assert_eq "$rc" "2" "a malformed hash is a usage error"
rc=0; out=$(mlp lineage models:/bc 2>&1) || rc=$?
assert_eq "$rc" "2" "a malformed reference is a usage error"
rc=0; out=$(mlp lineage models:/bc/9 2>&1) || rc=$?
assert_eq "$rc" "1" "an unknown version exits 1"
ok "lineage artifact HASH finds the models that came from the data, transitively; bad input is refused"

start_server
assert_eq "$(mlp --server "$SERVER_URL" lineage models:/bc/1 -o json | jq -S .)" "$(jq -S . "$T_DIR/l.json")" "through the server: the same JSON"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/api/v1/lineage/models/bc/versions/9")" "404" "an unknown version is 404"
assert_eq "$(mlp --server "$SERVER_URL" lineage artifact "$h" -o json | jq -r '.models | length')" "2" "artifact through the server"
ok "lineage through --server (GET /api/v1/lineage/...)"

mlp delete run "$crun" >/dev/null || fail "delete the child's run"
assert_eq "$(mlp lineage models:/child/1 -o json | jq -r '"\(.run) \(.note)"')" \
  "null the run that registered this version was deleted" "a version whose run is gone says so"
assert_contains "$(mlp lineage models:/child/1)" "the run that registered this version was deleted" "table too"
ok "lineage of a version whose run was deleted"
finish
