#!/usr/bin/env bash
# delete_run.sh — `delete run RUN [--force]`: a run in progress is refused unless
# --force (which cancels it first); its records, MLflow run and folders go; a
# registered version made by the run keeps its files (they live in the artifact
# store); a run whose outputs other runs reuse is refused; also through --server.
source "$(dirname "$0")/lib.sh"

cat >"$T_DIR/reg.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: reg}
spec:
  steps:
    - name: train
      command: [sh, -c, "echo weights > model.json"]
      outputs:
        - {name: model, path: model.json}
      register: {model: m, artifact: model}
YAML
reg1=$(mlp run "$T_DIR/reg.yaml" | head -1)
start_server

# ---- delete run: a run in progress ---------------------------------------------------------
cat >"$T_DIR/slow.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: slow}
spec:
  steps:
    - {name: a, command: [sh, -c, "echo started; exec $NAP 300"]}
YAML
slow=$(mlp run --detach "$T_DIR/slow.yaml")
wait_for "the step to run" 30 nap_running
rc=0; out=$(mlp delete run "$slow" 2>&1) || rc=$?
assert_eq "$rc" "1" "delete of a running run without --force exits 1"
assert_contains "$out" "run $slow has not ended (Running); nothing was deleted" "it says why"
assert_contains "$out" "--force" "it says how"
assert_eq "$(run_state "$slow")" "Running" "the run is still Running"
[ -d "$MLPLANE_HOME/runs/$slow" ] || fail "the run's folder is gone after a refused delete"
nap_running || fail "the run's step was stopped by a refused delete"
mlp describe run "$slow" >/dev/null || fail "the run's records are gone after a refused delete"
ok "delete run of a run in progress without --force changes nothing"

out=$(mlp delete run "${slow:0:8}" --force) || fail "delete --force: $out"
assert_eq "$out" "run $slow deleted" "delete --force by a prefix names the run"
assert_eq "$(mlp get runs -o json | jq --arg id "$slow" '[.[] | select(.id == $id)] | length')" "0" "the run is no longer listed"
[ ! -e "$MLPLANE_HOME/runs/$slow" ] || fail "the run's folder is still there"
wait_for "the step's process to end" 30 sh -c "! pgrep -f '$T_DIR/bin/[n]ap' >/dev/null"
out=$(mlp describe run "$slow" 2>&1) && fail "describe of a deleted run succeeded"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/api/2.0/mlflow/runs/get?run_id=$slow")" "404" "its MLflow run is gone"
ok "delete run --force cancels the run, then removes its records, MLflow run and folder"

# ---- delete run: what it must not break -------------------------------------------------------
src=$(artifact_file "$(mlp models get m -o json | jq -r '.model_versions[] | select(.version == "1") | .source')")
[ -f "$src" ] || fail "version 1's file: $src"
assert_eq "$(mlp delete run "$reg1")" "run $reg1 deleted" "a run that registered a version can go"
[ ! -e "$MLPLANE_HOME/runs/$reg1" ] || fail "the run's folder is still there"
[ -f "$src" ] || fail "the registered version's file went with the run"
assert_eq "$(mlp models get m -o json | jq -r '.model_versions | length')" "1" "the version is still registered"
ok "delete run keeps the files of the versions it registered (the artifact store owns them)"

cat >"$T_DIR/cached.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: cached}
spec:
  steps:
    - name: a
      command: [sh, -c, "echo hi > out.txt"]
      cache: true
      outputs:
        - {name: o, path: out.txt}
YAML
first=$(mlp run "$T_DIR/cached.yaml" | head -1)
second=$(mlp run "$T_DIR/cached.yaml" | head -1)
assert_eq "$(step_field "$second" a cached_from)" "$first" "the second run reuses the first's outputs"
rc=0; out=$(mlp delete run "$first" 2>&1) || rc=$?
assert_eq "$rc" "1" "delete of a run whose outputs are reused exits 1"
assert_contains "$out" "reused by 1 other run (cache hits): $second" "it names the run that reuses them"
[ -f "$MLPLANE_HOME/runs/$first/a/out.txt" ] || fail "the reused outputs are gone"
assert_eq "$(mlp delete run "$second")" "run $second deleted" "the reusing run can go"
assert_eq "$(mlp delete run "$first")" "run $first deleted" "then the first"
[ ! -e "$MLPLANE_HOME/runs/$first" ] || fail "the first run's folder is still there"
third=$(mlp run "$T_DIR/cached.yaml" | head -1)
assert_eq "$(step_field "$third" a state)" "Succeeded" "the deleted run's cache entry is gone: the step runs again"
ok "delete run refuses a run whose outputs other runs reuse, and forgets its cache entries"

rc=0; out=$(mlp delete run nosuch 2>&1) || rc=$?
assert_eq "$rc" "1" "delete of an unknown run exits 1"
assert_contains "$out" 'no run "nosuch"' "an unknown run"
out=$(mlp delete deployment nosuch --force 2>&1) && fail "--force accepted for another kind"
assert_contains "$out" "--force is only for mlplane delete run" "--force elsewhere"
ok "delete run of an unknown run, and --force elsewhere, are refused"

# ---- delete run through --server -----------------------------------------------------------
slow2=$(mlp --server "$SERVER_URL" run --detach "$T_DIR/slow.yaml")
wait_for "the server's run to run" 30 nap_running
rc=0; out=$(mlp --server "$SERVER_URL" delete run "$slow2" 2>&1) || rc=$?
assert_eq "$rc" "1" "delete of a running run through --server without --force exits 1"
assert_contains "$out" "has not ended" "through --server it says why"
assert_eq "$(run_state "$slow2")" "Running" "still Running after a refused delete through --server"
nap_running || fail "the step was stopped by a refused delete through --server"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$SERVER_URL/api/v1/runs/$slow2")" "409" "DELETE of a running run is 409"
submitted=$(mlp describe run "$slow2" -o json | jq -r .spec_path)
case "$submitted" in "$MLPLANE_HOME/submitted/"*) [ -e "$submitted" ] || fail "no submitted spec at $submitted" ;;
  *) fail "the server's run's spec is not in HOME/submitted: $submitted" ;; esac
out=$(mlp --server "$SERVER_URL" delete run "$slow2" --force) || fail "delete --force through --server: $out"
assert_eq "$out" "run $slow2 deleted" "deleted through --server"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/api/v1/runs/$slow2")" "404" "the run is gone from the server"
[ ! -e "$MLPLANE_HOME/runs/$slow2" ] || fail "the server's run folder is still there"
[ ! -e "$submitted" ] || fail "the server's copy of the submitted spec is still there"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$SERVER_URL/api/v1/runs/$slow2")" "404" "DELETE of a deleted run is 404"
ok "delete run through --server (DELETE /api/v1/runs/ID, ?force=true)"
finish
