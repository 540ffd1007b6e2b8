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
assert_contains "$(step_field "$run" missing-output message)" "declared output \"model\"" "missing output"
ok "missing program and missing declared output fail the step"
finish
