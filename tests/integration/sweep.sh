#!/bin/bash
# Hyperparameter sweeps at run time: a grid runs every combination (each trial
# seeing its own params), the best trial by the objective wins and downstream
# steps get its outputs; maxParallel bounds overlapping trials; a random sweep
# with a seed draws the same trials twice; failed trials are tolerated while one
# succeeds; the median stopping rule stops a bad trial early; kill -9 + resume
# finishes an interrupted sweep without rerunning finished trials; the best
# trial's params reach the MLflow run; validation names an unknown swept param.
. "$(dirname "$0")/lib.sh"

# A trial: score = 1 - (lr - 0.3)^2 - (depth - 4)^2 / 100, best at lr=0.3, depth=4.
# It logs its start and end (ns) to $T_DIR/NAME.times for the overlap check.
trial_script() {
  cat <<SH
        echo "start \$MLPLANE_STEP \$(date +%s%N)" >> "$T_DIR/\$MLPLANE_PIPELINE.times"
        sleep 0.3
        score=\$(awk -v lr={{params.lr}} -v d=\$MLPLANE_PARAM_DEPTH 'BEGIN { printf "%.4f", 1 - (lr-0.3)^2 - (d-4)^2/100 }')
        echo "{\"score\": [0, \$score]}" > metrics.json
        echo "lr={{params.lr}} depth=\$MLPLANE_PARAM_DEPTH trial=\$MLPLANE_TRIAL sweep=\$MLPLANE_SWEEP" > model.txt
        echo "end \$MLPLANE_STEP \$(date +%s%N)" >> "$T_DIR/\$MLPLANE_PIPELINE.times"
SH
}

# max_overlap FILE: the most trials running at once according to FILE's start/end lines.
max_overlap() {
  awk '{ print $3, ($1 == "start" ? 1 : -1) }' "$1" | sort -n -k1,1 -k2,2 |
    awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

# ---- grid, maxParallel, downstream, events, get steps ------------------------------------
cat > "$T_DIR/grid.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: grid}
spec:
  params: {lr: "0.1", depth: "2", note: hello}
  steps:
    - name: prep
      script: echo "{{params.note}}" > data.txt
      outputs: [{name: data, path: data.txt}]
    - name: train
      script: |
$(trial_script)
        cat {{steps.prep.outputs.data}} >> model.txt
      outputs: [{name: model, path: model.txt}]
      sweep:
        grid: {lr: [0.1, 0.3, 0.5], depth: [2, 4]}
        maxParallel: 2
        objective: {metric: score, goal: maximize}
    - name: use
      script: cat {{steps.train.outputs.model}} > used.txt
      outputs: [{name: used, path: used.txt}]
YAML
run=$(mlp run --parallel 8 "$T_DIR/grid.yaml" | head -1)
assert_eq "$(run_state "$run")" "Succeeded" "grid run"
steps=$(mlp get steps "$run" -o json)
assert_eq "$(echo "$steps" | jq -r '[.[].name] | join(" ")')" \
  "prep train[0] train[1] train[2] train[3] train[4] train[5] train use" "steps: trials before their sweep step"
assert_eq "$(echo "$steps" | jq -r '[.[] | select(.name | startswith("train[")) | .params | "\(.lr)/\(.depth)"] | join(" ")')" \
  "0.1/2 0.1/4 0.3/2 0.3/4 0.5/2 0.5/4" "every combination, in order"
assert_eq "$(echo "$steps" | jq -r '[.[] | select(.name | startswith("train[")) | .state] | unique | join(",")')" \
  "Succeeded" "every trial ran"
for i in 0 1 2 3 4 5; do
  got=$(cat "$(step_field "$run" "train[$i]" outputs_dir)/model.txt" | head -1)
  want=$(echo "$steps" | jq -r --arg s "train[$i]" '.[] | select(.name==$s) | "lr=\(.params.lr) depth=\(.params.depth)"')
  assert_eq "$got" "$want trial=$i sweep=train" "trial $i sees its params"
done
ok "grid: 6 trials train[0..5], each with its own params (templates and MLPLANE_PARAM_*, MLPLANE_TRIAL, MLPLANE_SWEEP)"

assert_contains "$(step_field "$run" train message)" "best train[3] (lr=0.3, depth=4): score=1 (maximize)" "sweep message"
assert_eq "$(echo "$steps" | jq -c '.[] | select(.name=="train") | .params')" '{"lr":"0.3","depth":"4"}' "sweep params"
assert_eq "$(cat "$(step_field "$run" use outputs_dir)/used.txt")" "$(printf 'lr=0.3 depth=4 trial=3 sweep=train\nhello')" \
  "downstream gets the best trial's file"
[ -L "$(step_field "$run" train outputs_dir)" ] || fail "the sweep step's outputs directory links to the best trial's"
assert_eq "$(mlp get metrics "$run" -o json | jq -r '.[] | select(.step=="train" and .key=="score") | .value')" "1" \
  "the sweep step's metrics are the best trial's"
ok "the best trial (lr=0.3, depth=4) wins; downstream reads its output through the sweep step"

overlap=$(max_overlap "$T_DIR/grid.times")
assert_eq "$(grep -c '^start' "$T_DIR/grid.times")" "6" "six trial starts"
assert_eq "$overlap" "2" "at most maxParallel=2 trials overlapped (and 2 did)"
ok "maxParallel 2: never more than 2 trials at once with --parallel 8"

desc=$(mlp describe run "$run")
assert_contains "$desc" "SweepStarted     train                6 trials (grid over lr: 3 values, depth: 2 values); maxParallel 2" "SweepStarted"
assert_contains "$desc" "SweepBestTrial   train                trial train[3] (lr=0.3, depth=4) score=1 maximize" "SweepBestTrial"
assert_contains "$desc" "params:   lr=0.3, depth=4" "describe shows params"
table=$(mlp get steps "$run")
echo "$table" | head -1 | grep -q "PARAMS" || fail "get steps has a PARAMS column: $table"
echo "$table" | grep -q "^train\[3\] *Succeeded .* lr=0.3, depth=4 " || fail "trial row: $table"
ok "events SweepStarted and SweepBestTrial; get steps and describe show each trial's params"

# ---- the best trial's params in the MLflow run ---------------------------------------------
start_server
mlf=$(curl -sf "$SERVER_URL/api/2.0/mlflow/runs/get?run_id=$run")
param() { echo "$mlf" | jq -r --arg k "$1" '.run.data.params[] | select(.key==$k) | .value'; }
metric() { echo "$mlf" | jq -r --arg k "$1" '.run.data.metrics[] | select(.key==$k) | .value'; }
assert_eq "$(param train.best.lr)" "0.3" "param train.best.lr"
assert_eq "$(param train.best.depth)" "4" "param train.best.depth"
assert_eq "$(param train.best_trial)" "train[3]" "param train.best_trial"
assert_eq "$(metric train/3/score)" "1" "a trial's metric, under its prefix"
assert_eq "$(metric score)" "1" "the sweep's (best) metric"
ok "MLflow run: train.best.lr, train.best.depth, train.best_trial; trials' metrics as train/I/NAME"
stop_server "$SERVER_PID" || true

# ---- random with a seed: the same trials twice --------------------------------------------
cat > "$T_DIR/rnd.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: rnd}
spec:
  params: {lr: "0.1", depth: "2"}
  steps:
    - name: train
      script: |
$(trial_script)
      outputs: [{name: model, path: model.txt}]
      sweep:
        random:
          count: 5
          seed: 42
          params: {lr: {min: 0.01, max: 1, scale: log}, depth: {min: 2, max: 8}}
        objective: {metric: score, goal: maximize}
YAML
r1=$(mlp run "$T_DIR/rnd.yaml" | head -1)
r2=$(mlp run "$T_DIR/rnd.yaml" | head -1)
p1=$(mlp get steps "$r1" -o json | jq -c '[.[] | select(.name | startswith("train[")) | .params]')
p2=$(mlp get steps "$r2" -o json | jq -c '[.[] | select(.name | startswith("train[")) | .params]')
assert_eq "$p2" "$p1" "two runs with seed 42 draw the same trials"
assert_eq "$(echo "$p1" | jq 'length')" "5" "count 5"
echo "$p1" | jq -e 'all(.[]; (.lr | tonumber) >= 0.01 and (.lr | tonumber) < 1 and (.depth | test("^[2-8]$")))' \
  >/dev/null || fail "values in range (depth a whole number): $p1"
echo "$p1" | jq -e '[.[].lr] | unique | length == 5' >/dev/null || fail "lr drawn, not repeated: $p1"
best=$(step_field "$r1" train params | jq -r .lr)
want=$(echo "$p1" | jq -r 'max_by(1 - ((.lr | tonumber) - 0.3) * ((.lr | tonumber) - 0.3) - ((.depth | tonumber) - 4) * ((.depth | tonumber) - 4) / 100) | .lr')
assert_eq "$best" "$want" "the best drawn trial wins"
mlp describe run "$r1" | grep -q "SweepStarted .*5 trials drawn with seed 42" || fail "seed recorded"
ok "random: seed 42 draws the same 5 trials in two runs, ranges respected, seed recorded"

# ---- failed trials -------------------------------------------------------------------------
cat > "$T_DIR/flaky.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: flaky}
spec:
  params: {lr: "0.1", depth: "4", broken: "0.3"}
  steps:
    - name: train
      script: |
        if [ "{{params.lr}}" = "{{params.broken}}" ]; then echo "diverged" >&2; exit 3; fi
$(trial_script)
      outputs: [{name: model, path: model.txt}]
      sweep:
        grid: {lr: [0.1, 0.2, 0.3, 0.4]}
        objective: {metric: score, goal: maximize}
    - name: after
      script: cat {{steps.train.outputs.model}}
YAML
run=$(mlp run "$T_DIR/flaky.yaml" | head -1)
assert_eq "$(run_state "$run")" "Succeeded" "a run whose sweep has a failed trial"
assert_eq "$(step_field "$run" "train[2]" state)" "Failed" "the broken trial"
msg=$(step_field "$run" train message)
assert_contains "$msg" "best train[1] (lr=0.2): score=0.99" "best among the others (first of a tie)"
assert_contains "$msg" "4 trials: 3 succeeded, 1 failed" "failures counted"
assert_eq "$(step_field "$run" after state)" "Succeeded" "downstream ran"
ok "one failed trial: the sweep succeeds with the best of the others and counts the failure"

cat > "$T_DIR/dead.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: dead}
spec:
  params: {lr: "0.1"}
  steps:
    - name: train
      script: exit 1
      sweep: {grid: {lr: [0.1, 0.2]}, objective: {metric: score, goal: maximize}}
    - name: after
      dependsOn: [train]
      script: "true"
YAML
set +e
out=$(mlp run "$T_DIR/dead.yaml" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || fail "a sweep whose trials all failed succeeded"
run=$(echo "$out" | head -1)
assert_eq "$(run_state "$run")" "Failed" "run"
assert_contains "$(step_field "$run" train message)" "no trial succeeded with metric score (2 trials: 0 succeeded, 2 failed)" "message"
assert_eq "$(step_field "$run" after state)" "Skipped" "downstream skipped"
ok "every trial failed: the sweep step fails, downstream is skipped, the run fails"

cat > "$T_DIR/noobj.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: noobj}
spec:
  params: {lr: "0.1", bad: none}
  steps:
    - name: train
      script: |
        if [ "{{params.lr}}" = "{{params.bad}}" ]; then exit 1; fi
        echo "{{params.lr}}" > out.txt
      outputs: [{name: out, path: out.txt}]
      sweep: {grid: {lr: [0.1, 0.2]}}
YAML
run=$(mlp run "$T_DIR/noobj.yaml" | head -1)
assert_eq "$(cat "$(step_field "$run" train outputs_dir)/out.txt")" "0.1" "without an objective: the first trial's outputs"
set +e
out=$(mlp run "$T_DIR/noobj.yaml" -p bad=0.2 2>&1)
set -e
run=$(echo "$out" | head -1)
assert_eq "$(step_field "$run" train state)" "Failed" "without an objective, a failed trial fails the sweep"
assert_contains "$(step_field "$run" train message)" "every trial must succeed (first failure: train[1]" "message"
ok "no objective: all trials must succeed; the outputs are the first trial's"

# ---- early stopping --------------------------------------------------------------------------
cat > "$T_DIR/es.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: es}
spec:
  params: {lr: "0.1"}
  steps:
    - name: train
      # loss at step j: (lr - 0.3)^2 + 1/j, written after every step as a growing history
      script: |
        vals=""
        for j in $(seq 1 16); do
          v=$(awk -v lr={{params.lr}} -v j=$j 'BEGIN { printf "%.4f", (lr-0.3)^2 + 1/j }')
          vals="${vals:+$vals, }$v"
          echo "{\"loss\": [$vals]}" > metrics.tmp && mv metrics.tmp metrics.json
          sleep 0.25
        done
        echo done > done.txt
      sweep:
        grid: {lr: [0.1, 0.2, 0.3, 5.0]}
        maxParallel: 4
        objective: {metric: loss, goal: minimize}
        earlyStopping: {minTrials: 2, startStep: 3}
YAML
run=$(mlp run --parallel 8 "$T_DIR/es.yaml" | head -1)
assert_eq "$(run_state "$run")" "Succeeded" "early-stopping run"
steps=$(mlp get steps "$run" -o json)
assert_eq "$(echo "$steps" | jq -r '[.[] | "\(.name)=\(.state)"] | join(" ")')" \
  "train[0]=Succeeded train[1]=Succeeded train[2]=Succeeded train[3]=Stopped train=Succeeded" "states"
bad_dir=$(step_field "$run" "train[3]" outputs_dir)
[ ! -e "$bad_dir/done.txt" ] || fail "the bad trial ran to its end"
n=$(jq '.loss | length' "$bad_dir/metrics.json")
[ "$n" -lt 16 ] || fail "the bad trial reported all 16 steps"
assert_contains "$(step_field "$run" "train[3]" message)" "stopped early: loss: best" "stopped trial's message"
mlp describe run "$run" | grep -q "TrialEarlyStopped train\[3\] .*worse than .*the median of 3 other trials" ||
  fail "TrialEarlyStopped event: $(mlp describe run "$run" | grep -i stop)"
assert_contains "$(step_field "$run" train message)" "best train[2] (lr=0.3)" "best"
assert_contains "$(step_field "$run" train message)" "3 succeeded, 1 stopped early" "tally"
mlp get runs | grep -q "^$run .* 5/5 " || fail "a stopped trial counts as done: $(mlp get runs)"
mlp get steps "$run" | grep -q '^train\[3\] *Stopped ' || fail "get steps shows Stopped"
ok "early stopping: the bad trial is stopped after $n of 16 steps (Stopped, not Failed); the others finish"

# ---- kill -9 in the middle of a sweep, then resume ----------------------------------------------
cat > "$T_DIR/crashy.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: crashy}
spec:
  params: {lr: "0.1"}
  steps:
    - name: train
      script: |
        echo "\$MLPLANE_STEP" >> "$T_DIR/crashy.count"
        if [ "\$MLPLANE_TRIAL" = 1 ] && [ \$(grep -c 'train\[1\]' "$T_DIR/crashy.count") -eq 1 ]; then $NAP 120; fi
        awk -v lr={{params.lr}} 'BEGIN { printf "{\"score\": %.4f}\n", 1 - (lr-0.3)^2 }' > metrics.json
      sweep:
        grid: {lr: [0.1, 0.3, 0.5]}
        maxParallel: 1
        objective: {metric: score, goal: maximize}
YAML
"$MLPLANE" run "$T_DIR/crashy.yaml" > "$T_DIR/crashy.out" 2>&1 &
pid=$!
wait_for "run id" 10 test -s "$T_DIR/crashy.out"
run=$(head -1 "$T_DIR/crashy.out")
wait_for "trial 1 to start" 20 grep -q 'train\[1\]' "$T_DIR/crashy.count"
wait_for "trial 1 to nap" 10 nap_running
kill -9 $pid
wait $pid 2>/dev/null || true
assert_eq "$(run_state "$run")" "Interrupted" "run after kill -9"
out=$(mlp resume "$run" 2>&1) || fail "resume failed: $out"
assert_eq "$(run_state "$run")" "Succeeded" "resumed sweep"
assert_eq "$(tr '\n' ' ' < "$T_DIR/crashy.count")" "train[0] train[1] train[1] train[2] " "which trials ran"
assert_contains "$(step_field "$run" train message)" "best train[1] (lr=0.3)" "best after resume"
assert_eq "$(mlp describe run "$run" | grep -c 'SweepStarted')" "1" "SweepStarted once"
ok "kill -9 during a sweep, resume: finished trials kept, the interrupted one reruns, the sweep concludes"

# ---- validation ---------------------------------------------------------------------------------
cat > "$T_DIR/bad.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: bad}
spec:
  params: {lr: "0.1"}
  steps:
    - name: train
      script: "true"
      sweep: {grid: {lrr: [0.1, 0.2]}}
YAML
set +e
out=$(mlp validate "$T_DIR/bad.yaml" 2>&1)
rc=$?
set -e
assert_eq "$rc" "2" "validate exit status"
assert_contains "$out" "bad.yaml:9:22: sweep of step \"train\" varies \"lrr\", which is not a param of the pipeline (did you mean \"lr\"?)" "diagnostic"
ok "validate: a swept name that is not a pipeline param is an error at its line:col"
finish
