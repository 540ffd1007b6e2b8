#!/bin/bash
# Several `mlplane run` processes share one view of the machine: steps of two
# runs started at once, each asking for every CPU, never run at the same time,
# and all of them still run. A run whose owner was killed does not keep its
# capacity: its holds are ignored.
. "$(dirname "$0")/lib.sh"
cpus=$(nproc)

cat > "$T_DIR/p.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: whole-machine}
spec:
  steps:
$(for s in a b; do cat <<STEP
    - name: $s
      resources: {cpu: "$cpus"}
      script: |
        echo "start \$(date +%s.%N) \$MLPLANE_RUN_ID/$s" >> "$T_DIR/cpu.log"
        sleep 0.4
        echo "end \$(date +%s.%N) \$MLPLANE_RUN_ID/$s" >> "$T_DIR/cpu.log"
STEP
done)
YAML
"$MLPLANE" run "$T_DIR/p.yaml" > "$T_DIR/r1.out" 2>&1 &
p1=$!
"$MLPLANE" run "$T_DIR/p.yaml" > "$T_DIR/r2.out" 2>&1 &
p2=$!
wait $p1 || fail "first run failed: $(cat "$T_DIR/r1.out")"
wait $p2 || fail "second run failed: $(cat "$T_DIR/r2.out")"
assert_eq "$(grep -c '^start' "$T_DIR/cpu.log")" "4" "all four steps ran"
awk '{ if ($1 == "start") { n++; if (n > max) max = n } else n-- } END { if (max != 1) { print "max concurrent " max; exit 1 } }' \
  < <(sort -k2 -g "$T_DIR/cpu.log") || fail "steps of two runs overlapped: $(sort -k2 -g "$T_DIR/cpu.log")"
ok "two runs never oversubscribe the machine; every step still ran"
waited=0
for r in $(mlp get runs -o json | jq -r '.[].id'); do
  mlp describe run "$r" | grep -q "StepWaiting .*waiting for nodes: needs ${cpus} cpu, largest free on any node" && waited=1
done
assert_eq "$waited" "1" "a step that waited for room recorded why"
ok "a step waiting for room says so (StepWaiting event with the numbers)"

# get queue shows what waits, and why
cat > "$T_DIR/q.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: queued}
spec:
  steps:
    - {name: first, resources: {cpu: "$cpus"}, script: "$NAP 30"}
    - {name: second, resources: {cpu: "$cpus"}, script: "true"}
YAML
qrun=$(mlp run --detach "$T_DIR/q.yaml")
wait_for "the second step to wait for room" 20 sh -c "$MLPLANE get queue | grep -q 'second .*needs'"
j=$(mlp get queue -o json)
assert_eq "$(echo "$j" | jq -r --arg r "$qrun" '.[] | select(.run==$r) | .step')" "second" "queue lists the waiting step"
assert_contains "$(echo "$j" | jq -r --arg r "$qrun" '.[] | select(.run==$r) | .reason')" \
  "waiting for nodes: needs ${cpus} cpu, largest free on any node" "get queue: the reason in its shape"
mlp get queue | awk '$2 == "first"' | grep -q . && fail "a running step is not in the queue"
mlp cancel "$qrun" > /dev/null
assert_eq "$(mlp get queue -o json | jq length)" "0" "nothing waits after cancel"
ok "get queue lists waiting steps with the reason"

# a killed owner's holds do not block others
cat > "$T_DIR/hog.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: hog}
spec:
  steps:
    - {name: hold, resources: {cpu: "$cpus"}, script: "$NAP 60"}
YAML
"$MLPLANE" run "$T_DIR/hog.yaml" > "$T_DIR/hog.out" 2>&1 &
hp=$!
wait_for "the hog to hold the machine" 20 nap_running
kill -9 $hp
wait $hp 2>/dev/null || true
start=$(date +%s)
out=$(timeout 60 "$MLPLANE" run "$T_DIR/p.yaml" 2>&1) || fail "run after a dead owner: $out"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "a dead owner's hold blocked the next run"
ok "holds of a killed run are ignored"
run=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="hog") | .id')
mlp cancel "$run" > /dev/null
nap_running && fail "cancel did not stop the orphan"
ok "cancel of the killed run stops its orphan and releases its holds"
finish
