#!/bin/bash
# GPU steps get devices of their own: on a machine with 2 GPUs (the fake NVML
# library stands in for the NVIDIA driver, which this test machine lacks), two
# steps asking for one GPU each run at once on devices 0 and 1, a third waits
# for a free device, and a step that asked for none sees none.
. "$(dirname "$0")/lib.sh"
: "${MLPLANE_FAKE_NVML:?set by CMake}"
export MLPLANE_NVML_LIBRARY="$MLPLANE_FAKE_NVML"
export FAKE_NVML_GPUS="NVIDIA H100 80GB HBM3:85899345920,NVIDIA H100 80GB HBM3:85899345920"

cat > "$T_DIR/p.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: gpus}
spec:
  steps:
$(for s in a b c; do cat <<STEP
    - name: train-$s
      resources: {nvidia.com/gpu: 1}
      script: |
        echo "start \$(date +%s.%N) \$CUDA_VISIBLE_DEVICES" >> "$T_DIR/gpu.log"
        echo "\$CUDA_VISIBLE_DEVICES \$NVIDIA_VISIBLE_DEVICES \$CUDA_DEVICE_ORDER" > devices.txt
        sleep 0.6
        echo "end \$(date +%s.%N) \$CUDA_VISIBLE_DEVICES" >> "$T_DIR/gpu.log"
      outputs: [{name: devices, path: devices.txt}]
STEP
done)
    - name: cpu-only
      script: 'echo "[\${CUDA_VISIBLE_DEVICES-unset}] \${NVIDIA_VISIBLE_DEVICES-unset}" > devices.txt'
      outputs: [{name: devices, path: devices.txt}]
YAML
run=$(mlp run --parallel 4 "$T_DIR/p.yaml" | head -1)
assert_eq "$(run_state "$run")" "Succeeded" "run"
for s in a b c; do
  d=$(cat "$(step_field "$run" train-$s outputs_dir)/devices.txt")
  case "$d" in "0 0 PCI_BUS_ID" | "1 1 PCI_BUS_ID") ;; *) fail "train-$s devices: $d";; esac
done
ok "each GPU step sees one device, by NVML index, in PCI bus order"

# never more than 2 at once, and never one device twice at once
awk '{ if ($1 == "start") { n++; if (busy[$3]++) bad = 1; if (n > max) max = n } else { n--; busy[$3]-- } }
     END { if (bad) { print "a device was given twice"; exit 1 } if (max != 2) { print "max concurrent " max; exit 1 } }' \
  < <(sort -k2 -g "$T_DIR/gpu.log") || fail "GPU sharing: $(cat "$T_DIR/gpu.log")"
ok "two GPU steps ran at once on distinct devices; the third waited for one"

assert_eq "$(cat "$(step_field "$run" cpu-only outputs_dir)/devices.txt")" "[] void" "a step without GPUs sees none"
ok "a step that asked for no GPU sees none"
finish
