#!/bin/bash
# logs -f follows a detached run's output as it is written and returns when the run ends.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: chatty}
spec:
  steps:
    - name: talk
      script: |
        for i in 1 2 3 4 5; do echo "line $i"; sleep 0.3; done
        echo "to stderr" >&2
    - name: after
      dependsOn: [talk]
      command: [echo, done-after]
YAML
run=$(mlp run --detach "$T_DIR/p.yaml")
case "$run" in chatty-?????) ;; *) fail "--detach prints the run id: $run";; esac
ok "--detach returns the run id at once"

start=$(date +%s)
out=$(timeout 30 "$MLPLANE" logs -f "$run")
rc=$?
[ $rc -eq 0 ] || fail "logs -f exited $rc"
for i in 1 2 3 4 5; do assert_contains "$out" "line $i" "followed line $i"; done
assert_contains "$out" "to stderr" "stderr followed"
assert_contains "$out" "done-after" "second step's log"
assert_contains "$out" "==> after <==" "step header"
assert_eq "$(run_state "$run")" "Succeeded" "run finished when logs -f returned"
ok "logs -f prints every line and returns when the run ends"

out=$(mlp logs "$run" talk)
assert_not_contains "$out" "done-after" "one step's log only"
set +e
mlp logs "$run" nosuch 2>"$T_DIR/err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "unknown step accepted"
assert_contains "$(cat "$T_DIR/err")" "steps: talk, after" "unknown step lists the steps"
ok "logs of one step; unknown step is an error"
finish
