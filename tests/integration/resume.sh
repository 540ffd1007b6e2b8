#!/bin/bash
# kill -9 of mlplane in the middle of a run, then `mlplane resume`: finished steps
# do not run again, the interrupted step runs again with its partial outputs
# discarded, the orphaned child process is stopped, and the run succeeds.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/p.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: crashy}
spec:
  steps:
    - name: first
      script: |
        echo ran >> "$T_DIR/first.count"
        echo done > first.txt
      outputs: [{name: out, path: first.txt}]
    - name: second
      script: |
        echo ran >> "$T_DIR/second.count"
        echo partial > partial.txt
        if [ \$(wc -l < "$T_DIR/second.count") -eq 1 ]; then $NAP 120; fi
        cat "{{steps.first.outputs.out}}" > second.txt
      outputs: [{name: out, path: second.txt}]
    - name: third
      script: echo ran >> "$T_DIR/third.count"
      dependsOn: [second]
YAML

"$MLPLANE" run "$T_DIR/p.yaml" > "$T_DIR/out.txt" 2>&1 &
pid=$!
wait_for "run id" 10 test -s "$T_DIR/out.txt"
run=$(head -1 "$T_DIR/out.txt")
wait_for "second to start" 20 test -s "$T_DIR/second.count"
wait_for "second to write partial output" 10 test -e "$(step_field "$run" second outputs_dir)/partial.txt"
kill -9 $pid
wait $pid 2>/dev/null || true
ok "mlplane killed with SIGKILL while 'second' runs"

nap_running || fail "expected the step's process to outlive mlplane"
assert_eq "$(run_state "$run")" "Interrupted" "a dead owner's run shows as Interrupted"
mlp describe run "$run" | grep -q "mlplane resume $run" || fail "describe hints at resume"
ok "the run is shown as Interrupted with a resume hint, its child orphaned"

out=$(mlp resume "$run" 2>&1) || fail "resume failed: $out"
assert_eq "$(run_state "$run")" "Succeeded" "resumed run succeeded"
nap_running && fail "orphaned process still running"
assert_eq "$(wc -l < "$T_DIR/first.count")" "1" "finished step did not run twice"
assert_eq "$(wc -l < "$T_DIR/second.count")" "2" "interrupted step ran again"
assert_eq "$(wc -l < "$T_DIR/third.count")" "1" "later step ran once"
assert_eq "$(step_field "$run" second attempts)" "1" "the interrupted attempt is not charged"
assert_eq "$(cat "$(step_field "$run" second outputs_dir)/second.txt")" "done" "outputs after resume"
mlp describe run "$run" | grep -q "StepInterrupted" || fail "interruption recorded"
ok "resume: orphan stopped, finished steps kept, interrupted step re-run"

set +e
mlp resume "$run" >/dev/null 2>"$T_DIR/err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "resuming a finished run succeeded"
assert_contains "$(cat "$T_DIR/err")" "already ended" "message"
ok "resume of an ended run is refused"

# resuming a run whose owner is alive is refused
cat > "$T_DIR/l.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: alive}
spec:
  steps:
    - name: s
      script: "$NAP 30"
YAML
run=$(mlp run --detach "$T_DIR/l.yaml")
wait_for "step to run" 20 nap_running
set +e
mlp resume "$run" >/dev/null 2>"$T_DIR/err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "resume of a live run succeeded"
assert_contains "$(cat "$T_DIR/err")" "still being executed" "message"
mlp cancel "$run" >/dev/null
ok "resume refuses a run whose owner is alive"
finish
