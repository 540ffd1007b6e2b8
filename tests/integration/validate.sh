#!/bin/bash
# validate reports every error as FILE:LINE:COL and exits 2; an invalid file is
# never run and leaves nothing in the store.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/bad.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: bad}
spec:
  params: {lr: "0.1"}
  steps:
    - name: a
      command: [echo, "{{params.rate}}"]
      dependOn: [b]
    - name: b
      command: ["true"]
      resources: {cpu: "lots"}
      retries: {limit: three}
    - name: b
      script: echo
YAML
set +e
out=$(mlp validate "$T_DIR/bad.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "validate exit status"
assert_contains "$out" "bad.yaml:8:" "position of the unknown param"
assert_contains "$out" "rate" "unknown param named"
assert_contains "$out" "bad.yaml:9:7" "position of the unknown field"
assert_contains "$out" "dependsOn" "did-you-mean"
assert_contains "$out" "lots" "bad quantity"
assert_contains "$out" "three" "wrong type"
assert_contains "$out" "bad.yaml:14:" "duplicate step position"
n=$(printf '%s\n' "$out" | grep -c "bad.yaml:[0-9]*:[0-9]*:")
[ "$n" -ge 5 ] || fail "expected every error, got $n: $out"
ok "validate reports every error with its position"

cat > "$T_DIR/cycle.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: cyc}
spec:
  steps:
    - {name: x, command: ["true"], dependsOn: [z]}
    - {name: y, command: ["true"], dependsOn: [x]}
    - {name: z, command: ["true"], dependsOn: [y]}
    - {name: w, command: ["true"], dependsOn: [nope]}
YAML
set +e
out=$(mlp validate "$T_DIR/cycle.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "exit status"
assert_contains "$out" "cycle" "cycle reported"
assert_contains "$out" "nope" "undefined dependency reported"
ok "cycles and undefined dependencies"

set +e
out=$(mlp run "$T_DIR/bad.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "run of an invalid file"
assert_eq "$(mlp get runs -o json | jq length)" "0" "nothing stored"
ok "an invalid file is not run and leaves nothing in the store"

printf 'apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: x\n' > "$T_DIR/syntax.yaml"
set +e
out=$(mlp validate "$T_DIR/syntax.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "syntax error exit status"
assert_contains "$out" "syntax.yaml:" "syntax error position"
ok "YAML syntax errors have positions"

cat > "$T_DIR/good.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: good}
spec:
  params: {n: "1"}
  steps:
    - {name: a, command: [echo, "{{params.n}}"]}
YAML
out=$(mlp validate "$T_DIR/good.yaml")
assert_contains "$out" "valid" "good file"
set +e
out=$(mlp run "$T_DIR/good.yaml" -p m=2 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "unknown param override"
assert_contains "$out" "unknown param" "message"
assert_eq "$(mlp get runs -o json | jq length)" "0" "nothing stored"
set +e
out=$(mlp validate "$T_DIR/missing.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "missing file"
ok "bad -p and missing files are input errors"
cat > "$T_DIR/reg.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: reg}
spec:
  steps:
    - name: train
      command: ["true"]
      env: {MLPLANE_RUN_ID: "mine"}
      outputs: [{name: model, path: model.json}]
      register: {model: demo, artifact: modle}
YAML
set +e
out=$(mlp validate "$T_DIR/reg.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "exit status"
assert_contains "$out" "reg.yaml:8:" "reserved env position"
assert_contains "$out" "reserved" "reserved env name"
assert_contains "$out" 'register.artifact "modle" is not an output of step "train" (outputs: model)' "register artifact"
ok "register must name an output; MLPLANE_ env names are reserved"
out=$(mlp validate "$MLPLANE_SRC/examples/serving/deployment.yaml")
assert_contains "$out" "valid (1 object: 1 Deployment)" "the serving example"
cat > "$T_DIR/deploy.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: web}
spec:
  model: {name: breast-cancer, version: 1}
  canary: {version: 2, percnt: 10}
  replicas: {min: 0}
YAML
set +e
out=$(mlp validate "$T_DIR/deploy.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "exit status"
assert_contains "$out" 'deploy.yaml:6:12: missing required field "spec.canary.percent"' "missing percent"
assert_contains "$out" 'deploy.yaml:6:24: unknown field "percnt" in spec.canary (did you mean "percent"?)' "did-you-mean"
assert_contains "$out" "deploy.yaml:7:19: spec.replicas.min 0 needs spec.scaleToZeroAfterSeconds" "min 0"
ok "Deployments are validated like every kind"
finish
