#!/bin/bash
# The scheduler at run time, over real processes: priority preemption with
# checkpoint resume across two `mlplane run` processes, ClusterQueue quotas with
# borrowing and reclaim, gangs (ranks, all-or-nothing failure), and a simulated
# two-node cluster whose steps still really run on this machine.
. "$(dirname "$0")/lib.sh"
cpus=$(nproc)

# ---- preemption: serving preempts training, which resumes from its checkpoint ----
cat > "$T_DIR/train.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: train}
spec:
  steps:
    - name: fit
      priorityClassName: mlplane-training
      resources: {cpu: "$cpus"}
      checkpoint: {path: ckpt}
      script: |
        n=0
        if [ -f ckpt/n ]; then n=\$(cat ckpt/n); echo "resumed from \$n"; fi
        [ "\$MLPLANE_CHECKPOINT_DIR" -ef ckpt ] || { echo "MLPLANE_CHECKPOINT_DIR is not ckpt"; exit 9; }
        trap 'echo "checkpointed at \$n"; exit 143' TERM
        while [ \$n -lt 40 ]; do n=\$((n + 1)); echo \$n > ckpt/n; sleep 0.1; done
        echo done at \$n
YAML
cat > "$T_DIR/serve.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: serve}
spec:
  steps:
    - name: answer
      priorityClassName: mlplane-serving
      resources: {cpu: "$cpus"}
      script: "echo served at \$(date +%s.%N) > $T_DIR/served; sleep 0.3"
YAML
"$MLPLANE" run "$T_DIR/train.yaml" > "$T_DIR/train.out" 2>&1 &
tp=$!
wait_for "training to checkpoint a few rounds" 30 sh -c "n=\$(cat $MLPLANE_HOME/runs/*/checkpoints/fit/n 2>/dev/null); [ \"\${n:-0}\" -ge 5 ]"
out=$("$MLPLANE" run "$T_DIR/serve.yaml" 2>&1) || fail "serving run failed: $out"
[ -f "$T_DIR/served" ] || fail "serving step did not run"
wait $tp || fail "training run failed: $(cat "$T_DIR/train.out")"
train=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="train") | .id')
serve=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="serve") | .id')
d=$(mlp describe run "$train")
assert_contains "$d" "StepPreempted" "training step was preempted"
assert_contains "$d" "preempted by $serve/answer" "preemption names the preemptor"
assert_contains "$d" "StepRequeued" "training step was requeued"
preempting=$(mlp describe run "$serve" -o json | jq -r '.events[] | select(.type=="StepPreempting") | .message')
assert_contains "$preempting" "waiting for preemption: preempts $train/fit (priority 0) to make room; needs" \
  "serving run recorded its preemption, naming the victim and why"
log=$(mlp logs "$train" fit)
assert_contains "$log" "checkpointed at" "the victim got SIGTERM and checkpointed"
resumed=$(grep -o 'resumed from [0-9]*' <<<"$log" | awk '{print $3}')
[ "${resumed:-0}" -ge 5 ] || fail "the resumed step did not continue from its checkpoint: $log"
assert_contains "$log" "done at 40" "training finished"
assert_eq "$(step_field "$train" fit attempts)" "1" "preemption is not charged as an attempt"
ok "serving preempts training; training resumes from its checkpoint (from $resumed), attempt not charged"

# ---- quotas: nominal, borrowing from the cohort, reclaim -------------------------
cat > "$T_DIR/queues.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: ResourceFlavor
metadata: {name: cpus}
---
$(for team in a b; do cat <<CQ
apiVersion: mlplane.dev/v1
kind: ClusterQueue
metadata: {name: team-$team}
spec:
  cohort: shared
  resourceGroups:
    - coveredResources: [cpu]
      flavors:
        - name: cpus
          resources: [{name: cpu, nominalQuota: 500m}]
  preemption: {reclaimWithinCohort: Any}
---
apiVersion: mlplane.dev/v1
kind: LocalQueue
metadata: {name: default, namespace: team-$team}
spec: {clusterQueue: team-$team}
---
CQ
done)
YAML
out=$(mlp apply -f "$T_DIR/queues.yaml") || fail "apply: $out"
assert_contains "$out" "ClusterQueue/team-a applied" "apply output"
assert_contains "$(mlp get clusterqueues)" "cpu 0/0.5" "clusterqueues list nominal quota"
team_a() {
  cat <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: $1, namespace: team-a}
spec:
  steps:
$(for s in $(seq 1 "$2"); do echo "    - {name: s$s, resources: {cpu: 500m}, script: \"echo \$MLPLANE_RUN_ID/s$s start >> $T_DIR/quota.log; $NAP 60\"}"; done)
YAML
}
team_a burst 3 > "$T_DIR/burst.yaml"
brun=$(mlp run --detach --parallel 4 "$T_DIR/burst.yaml")
wait_for "two steps of team-a to run (one borrowed)" 20 sh -c "[ \$(grep -c start $T_DIR/quota.log 2>/dev/null) -ge 2 ]"
wait_for "the third to wait on quota" 20 sh -c "$MLPLANE get queue | grep -q 'team-a'"
q=$(mlp get queue -o json)
reason=$(jq -r --arg r "$brun" '.[] | select(.run==$r) | .reason' <<<"$q")
assert_contains "$reason" "waiting for quota: queue team-a over nominal cpu quota" "quota wait: its shape, the queue"
assert_contains "$(mlp get queue | head -1)" "REASON" "get queue's reason column"
assert_eq "$(jq -r --arg r "$brun" '.[] | select(.run==$r) | .clusterQueue' <<<"$q")" "team-a" "queue column"
assert_contains "$(mlp get clusterqueues -o json | jq -c '.[] | select(.name=="team-a") | .resources.cpu')" '"borrowed":500' "team-a borrows 500m"
ok "a queue over its nominal quota borrows from its cohort, then waits: $reason"
cat > "$T_DIR/b.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: reclaim, namespace: team-b}
spec:
  steps:
    - {name: mine, resources: {cpu: 500m}, script: "echo team-b ran > $T_DIR/b.done"}
YAML
out=$(timeout 60 "$MLPLANE" run "$T_DIR/b.yaml" 2>&1) || fail "team-b run: $out"
[ -f "$T_DIR/b.done" ] || fail "team-b step did not run"
assert_contains "$(mlp describe run "$brun")" "StepPreempted" "team-b reclaimed its quota by preempting a borrower"
ok "a queue under its nominal quota reclaims it from a borrower"
mlp cancel "$brun" > /dev/null

# ---- gangs ------------------------------------------------------------------------
cat > "$T_DIR/gang.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: gang}
spec:
  steps:
    - name: ddp
      parallelism: 3
      script: "echo \$MLPLANE_RANK \$MLPLANE_WORLD_SIZE \$MLPLANE_MASTER_ADDR \$MLPLANE_MASTER_PORT \$RANK > $T_DIR/rank.\$MLPLANE_RANK"
YAML
out=$(mlp run "$T_DIR/gang.yaml" 2>&1) || fail "gang run: $out"
for r in 0 1 2; do [ -f "$T_DIR/rank.$r" ] || fail "rank $r did not run"; done
assert_eq "$(cut -d' ' -f2 "$T_DIR"/rank.* | sort -u)" "3" "world size"
assert_eq "$(cut -d' ' -f3,4 "$T_DIR"/rank.* | sort -u | wc -l)" "1" "one master address and port"
assert_eq "$(cut -d' ' -f3 "$T_DIR/rank.0")" "127.0.0.1" "master address"
assert_eq "$(awk '$1 != $5' "$T_DIR"/rank.*)" "" "RANK mirrors MLPLANE_RANK"
ok "a gang of 3 runs with ranks 0..2, one world size, one master"
cat > "$T_DIR/gangfail.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: gangfail}
spec:
  steps:
    - name: ddp
      parallelism: 3
      script: "if [ \$MLPLANE_RANK = 1 ]; then exit 3; fi; exec $NAP 60"
YAML
start=$(date +%s)
mlp run "$T_DIR/gangfail.yaml" > "$T_DIR/gf.out" 2>&1 && fail "a gang with a failing rank succeeded"
[ $(( $(date +%s) - start )) -lt 20 ] || fail "the failing rank did not stop its gang"
nap_running && fail "workers of a failed gang are still running"
gf=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="gangfail") | .id')
assert_eq "$(step_field "$gf" ddp exit_code)" "3" "the gang fails with the failing rank's code"
ok "a gang fails as a whole when one rank fails; the others are stopped"

# ---- a simulated two-node cluster over this machine ------------------------------
export MLPLANE_HOME="$T_DIR/sim-home"
cat > "$T_DIR/nodes.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Node
metadata: {name: n1, labels: {zone: a}}
spec: {capacity: {cpu: "1", memory: 1Gi, nvidia.com/mig-1g.10gb: "2"}}
---
apiVersion: mlplane.dev/v1
kind: Node
metadata: {name: n2, labels: {zone: b}}
spec: {capacity: {cpu: "1", memory: 1Gi}}
YAML
mlp apply -f "$T_DIR/nodes.yaml" > /dev/null || fail "apply nodes"
cat > "$T_DIR/sim.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: sim}
spec:
  steps:
$(for s in 1 2 3 4; do echo "    - {name: s$s, resources: {cpu: \"1\"}, script: \"echo start \$(date +%s.%N) \$MLPLANE_NODE >> $T_DIR/sim.log; sleep 0.3; echo end \$(date +%s.%N) >> $T_DIR/sim.log\"}"; done)
    - {name: slice, resources: {nvidia.com/mig-1g.10gb: 1}, script: "echo \$MLPLANE_NODE > $T_DIR/slice.node"}
    - {name: zone-b, nodeSelector: {zone: b}, resources: {cpu: 100m}, script: "echo \$MLPLANE_NODE > $T_DIR/zone.node"}
YAML
out=$(mlp run --parallel 6 "$T_DIR/sim.yaml" 2>&1) || fail "simulated cluster run: $out"
assert_eq "$(grep -c '^start' "$T_DIR/sim.log")" "4" "every step really ran"
assert_eq "$(awk '/^start/ {print $3}' "$T_DIR/sim.log" | sort -u | tr '\n' ' ')" "n1 n2 " "steps ran on both nodes"
awk '{ if ($1 == "start") { n++; if (n > max) max = n } else n-- } END { if (max > 2) { print "max " max; exit 1 } }' \
  < <(sort -k2 -g "$T_DIR/sim.log") || fail "more steps ran at once than the two 1-cpu nodes hold"
assert_eq "$(cat "$T_DIR/slice.node")" "n1" "the MIG slice step went to the node with slices"
assert_eq "$(cat "$T_DIR/zone.node")" "n2" "nodeSelector picked zone b"
assert_contains "$(mlp get nodes)" "simulated nodes" "get nodes says the nodes are simulated"
ok "two simulated nodes: steps placed by capacity, slices and selectors, and really executed"
cat > "$T_DIR/big.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: big}
spec:
  steps:
    - {name: huge, resources: {cpu: "2"}, command: ["true"]}
YAML
out=$(mlp run "$T_DIR/big.yaml" 2>&1) && fail "a step no node can hold was accepted"
assert_contains "$out" "can never run on this cluster" "refused at submit"
ok "a step no node could ever hold is refused at submit"

# ---- apply refuses bad references, and changes nothing --------------------------
cat > "$T_DIR/bad.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: LocalQueue
metadata: {name: lost, namespace: x}
spec: {clusterQueue: nowhere}
YAML
out=$(mlp apply -f "$T_DIR/bad.yaml" 2>&1) && fail "apply accepted a LocalQueue of an unknown ClusterQueue"
assert_contains "$out" "bad.yaml:" "error has the file position"
assert_contains "$out" "\"nowhere\" is not applied" "error names the missing queue"
assert_eq "$(mlp get localqueues -o json | jq length)" "0" "nothing was applied"
ok "apply checks references and changes nothing on error"

# ---- why a step waits: one shape, "waiting for WHAT: WHY" -------------------------
export MLPLANE_HOME="$T_DIR/why-home"
cat > "$T_DIR/late.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: ResourceFlavor
metadata: {name: cpus}
---
apiVersion: mlplane.dev/v1
kind: ClusterQueue
metadata: {name: late}
spec:
  resourceGroups:
    - coveredResources: [cpu]
      flavors: [{name: cpus, resources: [{name: cpu, nominalQuota: "1"}]}]
---
apiVersion: mlplane.dev/v1
kind: LocalQueue
metadata: {name: late, namespace: why}
spec: {clusterQueue: late}
YAML
mlp apply -f "$T_DIR/late.yaml" > /dev/null || fail "apply the late queue"
cat > "$T_DIR/why.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: why, namespace: why}
spec:
  steps:
    - {name: gate, script: "while [ ! -f $T_DIR/why.go ]; do sleep 0.1; done"}
    - {name: after, dependsOn: [gate], queueName: late, resources: {cpu: 100m}, script: "true"}
    - {name: flaky, retries: {limit: 1, backoffSeconds: 600}, script: "echo flaky; exit 4"}
YAML
wrun=$(mlp run --detach "$T_DIR/why.yaml")
mlp delete localqueue late -n why > /dev/null || fail "delete the LocalQueue"
touch "$T_DIR/why.go"
wait_for "the step whose LocalQueue went away to say why it waits" 30 \
  sh -c "$MLPLANE get steps $wrun -o json | jq -r '.[] | select(.name==\"after\") | .message' | grep -q 'waiting for a LocalQueue: '"
assert_contains "$(step_field "$wrun" after message)" \
  "waiting for a LocalQueue: step \"after\": LocalQueue \"late\" is not applied in namespace \"why\"" "its message"
assert_contains "$(mlp describe run "$wrun")" "StepWaiting" "the event"
wait_for "the failed step to wait for its retry" 30 sh -c "$MLPLANE get queue | grep -q flaky"
q=$(mlp get queue -o json)
assert_contains "$(jq -r '.[] | select(.step=="flaky") | .reason' <<<"$q")" \
  "waiting for its next attempt: exited with code 4: flaky; retry 1 of 1 in" "get queue: a retry's backoff"
assert_eq "$(jq -r '.[] | select(.step=="after") | .reason' <<<"$q" | grep -c '^waiting for ')" "1" "get queue: the same shape"
mlp cancel "$wrun" > /dev/null
ok "a step says why it waits in one shape: unknown LocalQueue at run time, a retry's backoff"
finish
