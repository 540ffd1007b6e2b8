#!/bin/bash
# Timeouts (SIGTERM, then SIGKILL after the grace period), cancel from another
# process, and Ctrl-C (SIGINT) of the mlplane process itself.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/t.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: slow}
spec:
  steps:
    - name: stubborn
      # ignores SIGTERM: only SIGKILL after the grace period stops it
      script: "trap '' TERM; echo started; $NAP 60"
      timeoutSeconds: 1
YAML
start=$(date +%s)
set +e
out=$(mlp run "$T_DIR/t.yaml" 2>&1); rc=$?
set -e
took=$(( $(date +%s) - start ))
run=$(printf '%s\n' "$out" | head -1)
assert_eq "$rc" "1" "timed-out run exits 1"
assert_contains "$(step_field "$run" stubborn message)" "timed out after 1s" "timeout message"
[ "$took" -lt 20 ] || fail "timeout took ${took}s"
mlp describe run "$run" | grep -q StepTimedOut || fail "timeout event"
nap_running && fail "timed-out process survived"
ok "timeout: SIGTERM ignored, SIGKILL after grace, step failed"

cat > "$T_DIR/c.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: long}
spec:
  steps:
    - name: sleeper
      script: "echo started; $NAP 60"
    - name: never
      dependsOn: [sleeper]
      command: [touch, "$T_DIR/never-ran"]
YAML
run=$(mlp run --detach "$T_DIR/c.yaml")
wait_for "sleeper to run" 20 sh -c "[ \"\$($MLPLANE get steps $run -o json | jq -r '.[0].state')\" = Running ]"
out=$(mlp cancel "$run")
assert_contains "$out" "Cancelled" "cancel reports the outcome"
assert_eq "$(run_state "$run")" "Cancelled" "run cancelled"
assert_eq "$(step_field "$run" sleeper state)" "Cancelled" "running step cancelled"
assert_eq "$(step_field "$run" never state)" "Cancelled" "waiting step cancelled"
[ ! -e "$T_DIR/never-ran" ] || fail "cancelled run started a step"
for i in $(seq 50); do nap_running || break; sleep 0.1; done
nap_running && fail "cancelled step's process survived"
ok "cancel from another process stops the run"

set +e
mlp cancel "$run" 2>"$T_DIR/err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "cancelling an ended run succeeded"
assert_contains "$(cat "$T_DIR/err")" "already ended" "message"
ok "cancel of an ended run is refused"

# SIGINT to an attached mlplane run cancels it
"$MLPLANE" run "$T_DIR/c.yaml" > "$T_DIR/out.txt" 2>&1 &
pid=$!
wait_for "run id" 10 test -s "$T_DIR/out.txt"
run=$(head -1 "$T_DIR/out.txt")
wait_for "sleeper to run" 20 sh -c "[ \"\$($MLPLANE get steps $run -o json | jq -r '.[0].state')\" = Running ]"
kill -INT $pid
set +e
wait $pid; rc=$?
set -e
assert_eq "$rc" "1" "interrupted run exits 1"
assert_eq "$(run_state "$run")" "Cancelled" "SIGINT cancels"
ok "SIGINT cancels the run gracefully"
finish
