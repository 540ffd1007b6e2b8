#!/bin/bash
# GPU discovery through NVML, with the fake NVML library ($MLPLANE_FAKE_NVML,
# tests/fakes/fake_nvml.c) standing in for NVIDIA's: `get nodes` in each output
# format, with and without GPUs, what running steps have allocated, and steps
# asking for nvidia.com/gpu run only where GPUs were found.
. "$(dirname "$0")/lib.sh"
: "${MLPLANE_FAKE_NVML:?set MLPLANE_FAKE_NVML to the fake NVML library}"

H100="NVIDIA H100 80GB HBM3"
TWO_GPUS="$H100:85899345920,$H100:85899345920"
# every mlplane here names its NVML: the fake, or a library that does not exist
with_gpus() { MLPLANE_NVML_LIBRARY="$MLPLANE_FAKE_NVML" FAKE_NVML_GPUS="$TWO_GPUS" "$MLPLANE" "$@"; }
without_gpus() { MLPLANE_NVML_LIBRARY=libnvidia-ml-absent.so.1 "$MLPLANE" "$@"; }

# ---- get nodes --------------------------------------------------------------
out=$(with_gpus get nodes)
assert_contains "$(printf '%s\n' "$out" | head -1)" "NAME" "table header"
assert_contains "$out" "GPU" "GPU column"
assert_contains "$out" "$(hostname)" "node named after the host"
assert_contains "$out" "2 (0 used)" "two GPUs, none used"
assert_contains "$out" "GPUS: 0: $H100 (80.0Gi), 1: $H100 (80.0Gi)" "GPUS line lists the models"
assert_not_contains "$out" "Note:" "no note when GPUs are found"
ok "get nodes: table with the fake's two GPUs"

json=$(with_gpus get nodes -o json)
assert_eq "$(jq length <<<"$json")" "1" "one node"
assert_eq "$(jq -r '.[0].name' <<<"$json")" "$(hostname)" "name"
assert_eq "$(jq -r '.[0].capacity.gpu' <<<"$json")" "2" "capacity.gpu"
assert_eq "$(jq -r '.[0].capacity.cpu_milli' <<<"$json")" "$(( $(nproc) * 1000 ))" "capacity.cpu_milli"
[ "$(jq -r '.[0].capacity.memory_bytes' <<<"$json")" -gt 0 ] || fail "capacity.memory_bytes"
assert_eq "$(jq -r '[.[0].gpus[].index] | join(",")' <<<"$json")" "0,1" "gpu indexes"
assert_eq "$(jq -r '.[0].gpus[1].name' <<<"$json")" "$H100" "gpu name"
assert_eq "$(jq -r '.[0].gpus[0].memory_bytes' <<<"$json")" "85899345920" "gpu memory"
assert_contains "$(jq -r '.[0].gpus[0].uuid' <<<"$json")" "GPU-" "gpu uuid"
assert_eq "$(jq -r '.[0].allocated.gpu' <<<"$json")" "0" "nothing allocated"
assert_eq "$(jq -r '.[0].gpu_discovery' <<<"$json")" "ok" "gpu_discovery"
ok "get nodes -o json: capacity, gpus, allocated"

yaml=$(with_gpus get nodes -o yaml)
assert_contains "$yaml" "name: $H100" "yaml gpu name"
assert_contains "$yaml" "gpu_discovery: ok" "yaml gpu_discovery"
ok "get nodes -o yaml"

out=$(without_gpus get nodes)
assert_contains "$out" "0 (0 used)" "no GPU"
assert_not_contains "$out" "GPUS:" "no GPUS line"
assert_contains "$out" "Note: no GPUs: libnvidia-ml-absent.so.1 (MLPLANE_NVML_LIBRARY) not found" "reason under the table"
json=$(without_gpus get nodes -o json)
assert_eq "$(jq -r '.[0].capacity.gpu' <<<"$json")" "0" "capacity.gpu without NVML"
assert_eq "$(jq -r '.[0].gpus | length' <<<"$json")" "0" "no gpus"
assert_eq "$(jq -r '.[0].gpu_discovery' <<<"$json")" "libnvidia-ml-absent.so.1 (MLPLANE_NVML_LIBRARY) not found" "reason in json"
json=$(MLPLANE_NVML_LIBRARY="$MLPLANE_FAKE_NVML" FAKE_NVML_INIT_ERROR=9 "$MLPLANE" get nodes -o json)
assert_eq "$(jq -r '.[0].gpu_discovery' <<<"$json")" "nvmlInit failed: Driver Not Loaded" "nvmlInit failing"
ok "get nodes without GPUs says why"

set +e
err=$(mlp get nodes extra 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "get nodes with an argument is a usage error"
assert_contains "$(mlp get --help)" "get nodes" "get --help mentions nodes"
ok "get nodes usage"

# ---- steps requesting GPUs ----------------------------------------------------
cat > "$T_DIR/gpu.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: train-gpu}
spec:
  steps:
    - name: train
      command: ["true"]
      resources: {nvidia.com/gpu: 1}
YAML
run=$(with_gpus run "$T_DIR/gpu.yaml" | head -1)
assert_eq "$(run_state "$run")" "Succeeded" "GPU step ran where the fake reports 2 GPUs"
ok "a step requesting 1 GPU runs on a machine with 2"

set +e
err=$(without_gpus run "$T_DIR/gpu.yaml" 2>&1); rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a GPU step ran on a machine without GPUs"
assert_contains "$err" 'step "train" requests 1 nvidia.com/gpu but this machine has 0' "refusal"
ok "a step requesting 1 GPU is refused without GPUs"

cat > "$T_DIR/three.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: too-many-gpus}
spec:
  steps:
    - name: big
      command: ["true"]
      resources: {nvidia.com/gpu: 3}
YAML
set +e
err=$(with_gpus run "$T_DIR/three.yaml" 2>&1); rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a step asking for 3 GPUs ran on a machine with 2"
assert_contains "$err" "requests 3 nvidia.com/gpu but this machine has 2" "refusal names the count"
ok "a step requesting more GPUs than found is refused"

# ---- what running steps have allocated --------------------------------------------
cat > "$T_DIR/busy.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: busy}
spec:
  steps:
    - name: hold
      script: "echo started; $NAP 60"
      resources: {cpu: 500m, memory: 1Gi, nvidia.com/gpu: 1}
    - name: quick
      command: ["true"]
      resources: {cpu: "1", nvidia.com/gpu: 1}
YAML
run=$(with_gpus run --detach "$T_DIR/busy.yaml")
wait_for "hold to run" 20 sh -c "[ \"\$($MLPLANE get steps $run -o json | jq -r '.[] | select(.name==\"hold\") | .state')\" = Running ]"
wait_for "quick to finish" 20 sh -c "[ \"\$($MLPLANE get steps $run -o json | jq -r '.[] | select(.name==\"quick\") | .state')\" = Succeeded ]"
json=$(with_gpus get nodes -o json)
assert_eq "$(jq -r '.[0].allocated.gpu' <<<"$json")" "1" "allocated gpu"
assert_eq "$(jq -r '.[0].allocated.cpu_milli' <<<"$json")" "500" "allocated cpu"
assert_eq "$(jq -r '.[0].allocated.memory_bytes' <<<"$json")" "1073741824" "allocated memory"
assert_eq "$(jq -r '.[0].allocated.steps' <<<"$json")" "1" "one step running"
out=$(with_gpus get nodes)
assert_contains "$out" "2 (1 used)" "GPU column shows use"
assert_contains "$out" "(0.5 used)" "CPU column shows use"
assert_contains "$out" "(1.0Gi used)" "MEMORY column shows use"
ok "get nodes sums the requests of running steps"

mlp cancel "$run" >/dev/null
json=$(with_gpus get nodes -o json)
assert_eq "$(jq -r '.[0].allocated.gpu' <<<"$json")" "0" "released after cancel"
assert_eq "$(jq -r '.[0].allocated.steps' <<<"$json")" "0" "no step running after cancel"
ok "allocation released when the run ends"

finish
