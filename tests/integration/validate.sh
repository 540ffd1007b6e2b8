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
# ---- a step's priorityClassName and queueName name objects that exist -----------
cat > "$T_DIR/names.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: PriorityClass
metadata: {name: high}
value: 100
---
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: names}
spec:
  steps:
    - name: train
      command: ["true"]
      priorityClassName: hihg
      queueName: team-a
    - name: ok
      command: ["true"]
      priorityClassName: mlplane-training
YAML
set +e
out=$(MLPLANE_HOME="$T_DIR/nohome" mlp validate "$T_DIR/names.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "unknown names: exit status"
assert_contains "$out" "names.yaml:13:26: step \"train\": priorityClassName \"hihg\" names no PriorityClass in this file (did you mean \"high\"?); there is no mlplane home at $T_DIR/nohome to look in" "class: position, did-you-mean, no home"
assert_contains "$out" "names.yaml:14:18: step \"train\": queueName \"team-a\" names no LocalQueue of namespace \"default\" in this file (there is none: define one in the file or apply one with \`mlplane apply -f FILE\`)" "queue: position and what to do"
assert_not_contains "$out" '"ok"' "a built-in class is known"
[ ! -e "$T_DIR/nohome" ] || fail "validate created the home"
ok "validate without a home: unknown priorityClassName and queueName at their position, with did-you-mean"

cat > "$T_DIR/queues.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: ResourceFlavor
metadata: {name: cpus}
---
apiVersion: mlplane.dev/v1
kind: ClusterQueue
metadata: {name: team-a}
spec:
  resourceGroups:
    - coveredResources: [cpu]
      flavors:
        - name: cpus
          resources: [{name: cpu, nominalQuota: "1"}]
---
apiVersion: mlplane.dev/v1
kind: LocalQueue
metadata: {name: team-a}
spec: {clusterQueue: team-a}
YAML
cat > "$T_DIR/uses.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: uses}
spec:
  steps:
    - {name: a, command: ["true"], queueName: team-a}
YAML
sed 's/queueName: team-a/queueName: tema-a/' "$T_DIR/uses.yaml" > "$T_DIR/typo.yaml"
out=$(MLPLANE_HOME="$T_DIR/nohome" mlp validate "$T_DIR/queues.yaml" "$T_DIR/uses.yaml")
assert_contains "$out" "uses.yaml: valid" "a LocalQueue of another file given"
set +e
out=$(mlp validate "$T_DIR/uses.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "not applied yet"
assert_contains "$out" "uses.yaml:6:47: step \"a\": queueName \"team-a\" names no LocalQueue of namespace \"default\" applied in $MLPLANE_HOME or in this file" "home without the queue"
mlp apply -f "$T_DIR/queues.yaml" >/dev/null
out=$(mlp validate "$T_DIR/uses.yaml")
assert_contains "$out" "uses.yaml: valid" "an applied LocalQueue"
set +e
out=$(mlp validate "$T_DIR/typo.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "typo"
assert_contains "$out" "typo.yaml:6:47: step \"a\": queueName \"tema-a\" names no LocalQueue of namespace \"default\" applied in $MLPLANE_HOME or in this file (did you mean \"team-a\"?)" "did-you-mean from the home"
ok "validate checks names against the files given and what the home has applied"

set +e
out=$(mlp run "$T_DIR/typo.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "run: exit status"
assert_contains "$out" "typo.yaml:6:47: step \"a\": queueName \"tema-a\" names no LocalQueue of namespace \"default\" applied or in this file (did you mean \"team-a\"?)" "run: position and did-you-mean"
assert_contains "$out" "mlplane: $T_DIR/typo.yaml names 1 object that does not exist; nothing was run" "run: nothing run"
set +e
out=$(mlp run "$T_DIR/names.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "run names.yaml: exit status"
assert_contains "$out" "names.yaml:13:26: step \"train\": priorityClassName \"hihg\" names no PriorityClass applied or in this file (did you mean \"high\"?)" "run: class"
assert_eq "$(mlp get runs -o json | jq length)" "0" "nothing stored"
[ "$(mlp get priorityclasses -o json | jq '[.[] | select(.name=="high")] | length')" = "0" ] || fail "the refused file's PriorityClass was applied"
start_server
set +e
out=$(cd "$T_DIR" && mlp --server "$SERVER_URL" run typo.yaml 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "run --server: exit status"
assert_contains "$out" "typo.yaml:6:47: step \"a\": queueName \"tema-a\" names no LocalQueue of namespace \"default\" applied or in this file (did you mean \"team-a\"?)" "run --server: the client's file name, position, did-you-mean"
assert_not_contains "$out" "submitted" "not the server's copy of the file"
stop_server "$SERVER_PID"
ok "run refuses unknown names with their position, locally and through --server"

# ---- problems with a whole file are at 1:1 -------------------------------------
: > "$T_DIR/empty.yaml"
printf '# only a comment\n\n' > "$T_DIR/comments.yaml"
mkdir -p "$T_DIR/adir"
set +e
out=$(cd "$T_DIR" && mlp validate empty.yaml comments.yaml missing.yaml adir 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "exit status"
assert_contains "$out" "empty.yaml:1:1: no documents: expected at least one with apiVersion, kind, metadata and spec" "empty file"
assert_contains "$out" "comments.yaml:1:1: no documents" "only comments"
assert_contains "$out" "missing.yaml:1:1: cannot read: No such file or directory" "missing file"
assert_contains "$out" "adir:1:1: cannot read: Is a directory" "a directory"
n=$(printf '%s\n' "$out" | grep -vc '^[^:]*:[0-9]*:[0-9]*: ' || true)
assert_eq "$n" "0" "every line is FILE:LINE:COL: $out"
ok "an empty, comment-only, missing or unreadable file is a diagnostic at FILE:1:1"
finish
