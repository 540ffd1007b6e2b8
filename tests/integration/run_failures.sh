#!/bin/bash
# Retries with exponential backoff, final failure, downstream skipping, exit codes.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/p.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: flaky}
spec:
  steps:
    - name: flaky
      script: |
        echo x >> "$T_DIR/flaky.count"
        n=\$(wc -l < "$T_DIR/flaky.count")
        echo "attempt \$n"
        [ "\$n" -ge 3 ]
      retries: {limit: 2, backoffSeconds: 0.2}
    - name: broken
      script: 'echo "boom" >&2; exit 7'
      retries: {limit: 1, backoffSeconds: 0.1}
    - name: after-broken
      dependsOn: [broken]
      command: [touch, "$T_DIR/should-not-exist"]
    - name: after-flaky
      dependsOn: [flaky]
      command: ["true"]
YAML

set +e
out=$(mlp run "$T_DIR/p.yaml" 2>&1); rc=$?
set -e
run=$(printf '%s\n' "$out" | head -1)
assert_eq "$rc" "1" "exit status of a failed run"
assert_eq "$(run_state "$run")" "Failed" "run state"
ok "failed run exits 1"

assert_eq "$(wc -l < "$T_DIR/flaky.count")" "3" "flaky ran three times"
assert_eq "$(step_field "$run" flaky state)" "Succeeded" "flaky succeeded after retries"
assert_eq "$(step_field "$run" flaky attempts)" "3" "flaky attempts"
assert_contains "$out" "flaky Retrying" "retrying shown"
ok "retries until success, attempts recorded"

assert_eq "$(step_field "$run" broken state)" "Failed" "broken failed"
assert_eq "$(step_field "$run" broken attempts)" "2" "broken tried limit+1 times"
assert_eq "$(step_field "$run" broken exit_code)" "7" "exit code"
assert_eq "$(step_field "$run" after-broken state)" "Skipped" "downstream skipped"
[ ! -e "$T_DIR/should-not-exist" ] || fail "downstream of a failure ran"
assert_eq "$(step_field "$run" after-flaky state)" "Succeeded" "independent branch continued"
ok "failure skips downstream, other branches go on"

mlp logs "$run" broken | grep -q boom || fail "stderr in the log"
mlp logs "$run" broken | grep -q "attempt 2" || fail "attempt header in the log"
ok "stderr captured per step with attempt headers"

# the reason of a failure is in plain sight: the log's last line in the step's message,
# the last lines in describe run
assert_eq "$(step_field "$run" broken message)" "exited with code 7: boom" "last log line in the message"
mlp get steps "$run" | grep -q "^broken .*exited with code 7: boom" || fail "get steps shows the reason"
ev=$(mlp describe run "$run" -o json | jq -r '.events[] | select(.step=="broken" and .type=="StepRetrying") | .message')
assert_contains "$ev" "exited with code 7: boom; retry 1 of 1" "the retry event names the reason"
desc=$(mlp describe run "$run")
assert_contains "$desc" "      last log lines:
        | boom" "describe run shows the last log lines"
assert_eq "$(mlp describe run "$run" -o json | jq -c '.steps[] | select(.name=="broken") | .log_tail')" '["boom"]' \
  "log_tail: only the last attempt's lines"
assert_eq "$(mlp describe run "$run" -o json | jq -c '.steps[] | select(.name=="flaky") | .log_tail')" 'null' \
  "no log_tail for a step that succeeded"
start_server
rdesc=$(mlp --server "$SERVER_URL" describe run "$run")
assert_contains "$rdesc" "      last log lines:
        | boom" "describe run through --server shows the last log lines"
mlp --server "$SERVER_URL" get steps "$run" | grep -q "^broken .*exited with code 7: boom" || fail "get steps --server"
stop_server "$SERVER_PID"
ok "a failed step's message and describe run show the last lines of its log"

# backoff: the second retry of flaky waited about twice as long as the first
ev=$(mlp describe run "$run" -o json | jq -r '.events[] | select(.step=="flaky" and .type=="StepRetrying") | .message')
assert_contains "$ev" "in 0.2s" "first backoff"
assert_contains "$ev" "in 0.4s" "second backoff doubles"
ok "exponential backoff"

# a missing command fails the step clearly
cat > "$T_DIR/q.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: nocmd}
spec:
  steps:
    - name: missing
      command: [no-such-program-xyz]
    - name: missing-output
      command: ["true"]
      outputs: [{name: model, path: model.bin}]
YAML
set +e
out=$(mlp run "$T_DIR/q.yaml" 2>&1); rc=$?
set -e
run=$(printf '%s\n' "$out" | head -1)
assert_eq "$rc" "1" "exit status"
assert_eq "$(step_field "$run" missing exit_code)" "127" "command not found is 127"
mlp logs "$run" missing | grep -q "command not found: no-such-program-xyz" || fail "not-found message in log"
assert_eq "$(step_field "$run" missing message)" \
  "exited with code 127: command not found: no-such-program-xyz (searched PATH of the step)" "not-found in the message"
assert_contains "$(step_field "$run" missing-output message)" "declared output \"model\"" "missing output"
ok "missing program and missing declared output fail the step"

cat > "$T_DIR/r.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: reasons}
spec:
  steps:
    - name: typo
      script: 'trian.py --epochs 3'
    - name: traceback
      script: |
        echo "training"
        python3 -c 'raise ValueError("bad learning rate")'
    - name: long
      script: |
        printf 'x%.0s' $(seq 300); printf '\n\n   \n'
        exit 3
    - name: silent
      command: ["false"]
    - name: gang
      parallelism: 2
      script: |
        if [ "$MLPLANE_RANK" = 1 ]; then echo "rank 1: out of memory" >&2; exit 5; fi
        echo "rank 0 waits"; sleep 30
YAML
set +e
out=$(mlp run "$T_DIR/r.yaml" 2>&1)
set -e
run=$(printf '%s\n' "$out" | head -1)
assert_contains "$(step_field "$run" typo message)" "exited with code 127: " "typo: exit code"
assert_contains "$(step_field "$run" typo message)" "trian.py: not found" "typo: the shell's reason"
assert_eq "$(step_field "$run" traceback message)" "exited with code 1: ValueError: bad learning rate" "python's last line"
m=$(step_field "$run" long message)
assert_eq "${#m}" "$(( 20 + 203 ))" "a long last line is cut at 200 bytes and '...'"
assert_contains "$m" "xxx..." "the cut is marked"
assert_eq "$(step_field "$run" silent message)" "exited with code 1" "nothing in the log: the exit code alone"
assert_eq "$(step_field "$run" gang message)" "exited with code 5: rank 1: out of memory" "a gang: the failing worker's log"
desc=$(mlp describe run "$run")
assert_contains "$desc" "        | training
        | Traceback (most recent call last):" "describe run: the last lines, in order"
ok "the reason of a failure: the shell's not found, python's traceback, cut long lines, silent steps, gangs"
finish
