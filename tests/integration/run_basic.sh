#!/bin/bash
# A pipeline with params, templates, outputs and a dependency runs to success;
# its run id comes first; get/describe/logs show it; the step environment is right.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata:
  name: basic
  labels: {team: test}
spec:
  params:
    greeting: hello
    count: "3"
  steps:
    - name: make
      script: |
        for i in $(seq 1 {{params.count}}); do echo "{{params.greeting}} $i"; done > lines.txt
        env | grep '^MLPLANE_' | sort > env.txt
        echo '{"score": 0.75, "n": 3}' > metrics.json
        echo "made it"
      outputs:
        - {name: lines, path: lines.txt}
        - {name: env, path: env.txt}
    - name: count
      command: [sh, -c, 'wc -l < "$0" > "$MLPLANE_OUTPUTS/count.txt"', "{{steps.make.outputs.lines}}"]
      outputs: [{name: count, path: count.txt}]
    - name: independent
      command: ["true"]
YAML

out=$(mlp run "$T_DIR/p.yaml" -p greeting=hi 2>&1) || fail "run failed: $out"
run=$(printf '%s\n' "$out" | head -1)
case "$run" in basic-?????) ;; *) fail "first line is not the run id: $run";; esac
ok "run prints the run id first ($run)"
assert_contains "$out" "make Running" "plain event lines"
assert_contains "$out" "Succeeded" "success reported"

assert_eq "$(run_state "$run")" "Succeeded" "run state"
assert_eq "$(step_field "$run" make state)" "Succeeded" "make state"
assert_eq "$(step_field "$run" count attempts)" "1" "count attempts"
assert_eq "$(step_field "$run" make exit_code)" "0" "exit code recorded"
ok "states, attempts and exit codes recorded"

outdir=$(step_field "$run" make outputs_dir)
assert_eq "$(head -1 "$outdir/lines.txt")" "hi 1" "param override reached the template"
grep -q "^MLPLANE_RUN_ID=$run$" "$outdir/env.txt" || fail "MLPLANE_RUN_ID missing"
grep -q "^MLPLANE_STEP=make$" "$outdir/env.txt" || fail "MLPLANE_STEP missing"
grep -q "^MLPLANE_OUTPUTS=$outdir$" "$outdir/env.txt" || fail "MLPLANE_OUTPUTS missing"
grep -q "^MLPLANE_PARAM_GREETING=hi$" "$outdir/env.txt" || fail "param env missing"
ok "step environment carries run id, step, outputs and params"

cdir=$(step_field "$run" count outputs_dir)
assert_eq "$(tr -d ' ' < "$cdir/count.txt")" "3" "downstream read upstream artifact"
ok "artifact template resolved to the upstream output"

m=$(mlp get metrics "$run" -o json | jq -r '.[] | select(.key=="score") | .value')
assert_eq "$m" "0.75" "metrics.json recorded"
d=$(mlp describe run "$run")
assert_contains "$d" "score" "describe shows metrics"
assert_contains "$d" "StepSucceeded" "describe shows events"
ok "metrics recorded and described"

logs=$(mlp logs "$run" make)
assert_contains "$logs" "made it" "logs of one step"
logs=$(mlp logs "$run")
assert_contains "$logs" "==> make <==" "logs of all steps have headers"
ok "logs"

mlp get runs -o yaml | grep -q "id: $run" || fail "yaml output"
mlp get steps "$run" -o yaml | grep -q "name: count" || fail "steps yaml"
mlp get runs | grep -q "^$run .*Succeeded .*3/3" || fail "table: $(mlp get runs)"
short=${run:0:8}
mlp get steps "$short" -o json | jq -e 'length==3' >/dev/null || fail "prefix lookup"
ok "get -o table|json|yaml and id prefixes"

set +e
mlp get steps nosuchrun >/dev/null 2>"$T_DIR/err"; rc=$?
set -e
[ $rc -ne 0 ] || fail "unknown run accepted"
assert_contains "$(cat "$T_DIR/err")" "no run" "unknown run message"
ok "unknown run is an error"
finish
