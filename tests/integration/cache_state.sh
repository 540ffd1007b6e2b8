#!/bin/bash
# A cache hit is its own step state, Cached (not Skipped, which means an upstream
# step did not succeed): in get steps, describe run, -o json, the events, the
# server's API and the run's MLflow tags. `mlplane logs` of a Cached step prints
# the log of the run whose outputs it reused, and says so. Rows of a store from
# before the Cached state are converted when it is opened.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || fail "this test needs the sqlite3 command"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: cachestate}
spec:
  steps:
    - name: train
      cache: true
      script: |
        echo "training for real"
        echo model > model.bin
      outputs: [{name: model, path: model.bin}]
    - name: broken
      command: [sh, -c, 'exit 3']
    - name: after
      dependsOn: [broken]
      command: [sh, -c, 'true']
YAML
r1=$(mlp run "$T_DIR/p.yaml" | head -1 || true)
assert_eq "$(step_field "$r1" train state)" "Succeeded" "first run trains"
r2=$(mlp run "$T_DIR/p.yaml" | head -1 || true)
assert_eq "$(step_field "$r2" train state)" "Cached" "second run: a cache hit"
assert_eq "$(step_field "$r2" train cached_from)" "$r1" "cached from the first run"
assert_eq "$(step_field "$r2" after state)" "Skipped" "Skipped still means upstream failed"
table=$(mlp get steps "$r2")
echo "$table" | grep -q "^train  *Cached " || fail "get steps table: $table"
echo "$table" | grep -q "^after  *Skipped " || fail "get steps table: $table"
assert_eq "$(mlp get steps "$r2" -o yaml | grep -c 'state: Cached')" "1" "-o yaml"
d=$(mlp describe run "$r2")
echo "$d" | grep -q "train  *Cached" || fail "describe run: $d"
echo "$d" | grep -q "StepCached" || fail "describe run events: $d"
assert_not_contains "$(echo "$d" | grep ' train ' | grep StepSkipped || true)" "StepSkipped" "no StepSkipped for the hit"
ok "a cache hit is Cached in get steps (table, json, yaml) and describe run (event StepCached); Skipped stays for upstream failures"

# logs of a Cached step: the first run's log, with a note on stderr
out=$(mlp logs "$r2" train 2>"$T_DIR/logs.err")
assert_contains "$out" "training for real" "the reused run's log"
assert_eq "$(cat "$T_DIR/logs.err")" "step train is cached from run $r1; showing that run's log" "note on stderr"
all=$(mlp logs "$r2" 2>/dev/null)
assert_contains "$all" "training for real" "logs of every step include the reused log"
ok "logs of a Cached step print the log of the run it reused and say so"

# the server: state in the API, logs through --server, the MLflow tag
start_server
S=(--server "$SERVER_URL")
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs/$r2/steps" | jq -r '.[] | select(.name=="train") | .state')" "Cached" "API"
out=$(mlp "${S[@]}" logs "$r2" train 2>"$T_DIR/rlogs.err")
assert_contains "$out" "training for real" "remote logs"
assert_eq "$(cat "$T_DIR/rlogs.err")" "step train is cached from run $r1; showing that run's log" "remote note"
tag=$(curl -sf "$SERVER_URL/api/2.0/mlflow/runs/get?run_id=$r2" | jq -r '.run.data.tags[] | select(.key=="mlplane.cached.train") | .value')
assert_eq "$tag" "$r1" "MLflow tag mlplane.cached.train"
ok "the server's API says Cached, logs through --server follow the reused run, the MLflow run is tagged"

# a store from before Cached: the hit was Skipped with cached_from, its event StepSkipped
# (and, being a v8 store, its runs have no labels_json column, which v11 adds, nor the namespaces v14 adds)
stop_server "$SERVER_PID" || true
db="$MLPLANE_HOME/mlplane.db"
sqlite3 "$db" "UPDATE steps SET state = 5 WHERE state = 8;
  UPDATE events SET type = 'StepSkipped' WHERE type = 'StepCached';
  ALTER TABLE workloads RENAME TO holds; DROP INDEX workloads_pending; CREATE INDEX holds_pending ON holds(pending);
  ALTER TABLE runs DROP COLUMN labels_json;
  ALTER TABLE mlflow_experiments DROP COLUMN namespace; ALTER TABLE reg_models DROP COLUMN namespace;
  PRAGMA user_version = 8;" >/dev/null
assert_eq "$(sqlite3 "$db" "SELECT state FROM steps WHERE run_id = '$r2' AND name = 'train'")" "5" "old row"
assert_eq "$(step_field "$r2" train state)" "Cached" "old cache-hit row converted"
assert_eq "$(step_field "$r2" after state)" "Skipped" "old upstream-failure row kept"
mlp describe run "$r2" | grep -q "StepCached" || fail "old cache-hit event converted"
ok "opening an older store converts its cache-hit rows to Cached"

# the reused run deleted: logs say so and fail
sqlite3 "$db" "DELETE FROM events WHERE run_id = '$r1'; DELETE FROM metrics WHERE run_id = '$r1';
  DELETE FROM steps WHERE run_id = '$r1'; DELETE FROM runs WHERE id = '$r1';"
rc=0
mlp logs "$r2" train >"$T_DIR/gone.out" 2>"$T_DIR/gone.err" || rc=$?
[ "$rc" -ne 0 ] || fail "logs of a Cached step whose run is gone must fail"
assert_contains "$(cat "$T_DIR/gone.err")" "run $r1, whose outputs step train reused, was deleted" "says the run is gone"
assert_eq "$(cat "$T_DIR/gone.out")" "" "prints no other log"
ok "logs of a Cached step whose run was deleted say so and exit non-zero"
finish
