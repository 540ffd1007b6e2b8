#!/bin/bash
# mlplane sched simulate: capacity planning on a declared cluster. The example
# cluster cannot hold the 4-worker GPU gang next to the serving step (which goes
# first by priority); one more A100 node makes everything fit.
. "$(dirname "$0")/lib.sh"
ex="$MLPLANE_SRC/examples/capacity"

set +e
out=$(mlp sched simulate "$ex/cluster.yaml" "$ex/workloads.yaml"); rc=$?
set -e
assert_eq "$rc" "1" "exit status when something waits"
assert_eq "$(echo "$out" | awk '$1=="llm/serve" {print $4}')" "Placed" "serving placed"
assert_eq "$(echo "$out" | sed -n 2p | awk '{print $1}')" "llm/serve" "serving is placed first (priority)"
assert_contains "$(echo "$out" | grep llm/train)" "Pending" "gang waits"
assert_contains "$(echo "$out" | grep llm/train)" "waiting for nodes: gang of 4 workers of 4 nvidia.com/gpu, 16 cpu, 128Gi memory: only 3 fit" "gang reason, in the shape of get queue's"
assert_eq "$(echo "$out" | awk '$1=="cpu-0" {print $2}')" "12/16" "CPU step bin-packed on the first CPU node"
ok "the gang does not fit beside serving, and says why"

cat > "$T_DIR/more.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: NodePool
metadata:
  name: a100-extra
  labels: {gpu.product: a100}
spec:
  count: 1
  capacity: {cpu: 64, memory: 512Gi, nvidia.com/gpu: 8}
  taints: [{key: dedicated, value: gpu, effect: NoSchedule}]
YAML
j=$(mlp sched simulate "$ex/cluster.yaml" "$T_DIR/more.yaml" "$ex/workloads.yaml" -o json)
assert_eq "$(echo "$j" | jq -r '[.workloads[] | select(.status=="Placed")] | length')" "3" "all placed"
assert_eq "$(echo "$j" | jq -r '.workloads[] | select(.workload=="llm/train") | .nodes | length')" "4" "4 workers"
gpus=$(echo "$j" | jq '[.nodes[] | .allocated["nvidia.com/gpu"]] | add')
assert_eq "$gpus" "17" "GPUs allocated: 4x4 + 1"
over=$(echo "$j" | jq '[.nodes[] | select(.allocated["nvidia.com/gpu"] > .capacity["nvidia.com/gpu"])] | length')
assert_eq "$over" "0" "no node over capacity"
ok "with one more A100 node everything fits (-o json)"

out=$(mlp sched simulate "$ex/cluster.yaml" "$T_DIR/more.yaml" "$ex/workloads.yaml" --policy spread)
assert_eq "$(echo "$out" | awk '$1=="llm/prepare" {print $4}')" "Placed" "spread places too"
mlp sched simulate --help | grep -q "Usage: mlplane sched simulate" || fail "help"

set +e
err=$(mlp sched simulate "$ex/workloads.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "no nodes is an input error"
assert_contains "$err" "no Node or NodePool" "message"
err=$(mlp sched simulate "$ex/cluster.yaml" --policy fast 2>&1 || true)
assert_contains "$err" "--policy expects binpack or spread" "bad policy"
ok "spread policy, --help, and input errors"
finish
