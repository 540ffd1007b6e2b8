#!/bin/bash
# GET /metrics of `mlplane server`, over real HTTP, against a store with a
# succeeded and a failed run:
#   - Prometheus text format (`promtool check metrics` when Prometheus' promtool
#     is installed), Content-Type version 0.0.4, HEAD answered, POST a 405;
#   - requests counted by route template and code ({id}, never a run id; no run
#     id anywhere in the text), their durations a histogram;
#   - runs and steps by pipeline and state, step durations by pipeline, model
#     versions by stage, queues, node capacity, store latency, mlplane_build_info;
#   - GPUs through the fake NVML: utilisation and memory per device.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: metered}
spec:
  params: {fail: "no"}
  steps:
    - name: work
      script: 'test "{{params.fail}}" = no'
    - name: after
      dependsOn: [work]
      command: ["true"]
YAML
good=$(mlp run "$T_DIR/p.yaml" 2>&1 | head -1)
bad=$(mlp run "$T_DIR/p.yaml" -p fail=yes 2>&1 | head -1) || true
assert_eq "$(run_state "$good")" Succeeded "the first run"
assert_eq "$(run_state "$bad")" Failed "the second run"

if [ -n "${MLPLANE_FAKE_NVML:-}" ]; then
  export MLPLANE_NVML_LIBRARY=$MLPLANE_FAKE_NVML FAKE_NVML_GPUS="NVIDIA H100 80GB HBM3:85899345920" FAKE_NVML_UTILIZATION=37
fi
start_server
U=$SERVER_URL
curl -sf "$U/api/v1/runs/$good" >/dev/null || fail "GET a run"
curl -sf "$U/api/v1/runs/$bad" >/dev/null || fail "GET the other run"
curl -s -o /dev/null "$U/api/v1/runs/nosuchrun-00000"
curl -s -o /dev/null "$U/no/such/path/$good"
curl -sf "$U/api/v1/runs" >/dev/null || fail "list runs"

curl -s -D "$T_DIR/head" -o "$T_DIR/m.txt" "$U/metrics" || fail "GET /metrics"
M="$T_DIR/m.txt"
assert_contains "$(tr -d '\r' <"$T_DIR/head" | head -1)" 200 "GET /metrics status"
assert_contains "$(tr -d '\r' <"$T_DIR/head")" "Content-Type: text/plain; version=0.0.4" "content type"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -I "$U/metrics")" 200 "HEAD /metrics"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$U/metrics")" 405 "POST /metrics"
if command -v promtool >/dev/null; then
  promtool check metrics <"$M" || fail "promtool check metrics: $(promtool check metrics <"$M" 2>&1)"
  ok "promtool check metrics passes"
else
  echo "# promtool missing (Debian package prometheus): format lint skipped"
fi

has() { grep -qF -- "$1" "$M" || fail "$2: no '$1' in: $(grep -F "${1%%\{*}" "$M" | head -20)"; }
has 'mlplane_http_requests_total{route="/api/v1/runs/{id}",method="GET",code="200"} 2' "two GETs of a run, by template"
has 'mlplane_http_requests_total{route="/api/v1/runs/{id}",method="GET",code="404"} 1' "a run not found"
has 'mlplane_http_requests_total{route="unmatched",method="GET",code="404"} 1' "a path no route matches"
has 'mlplane_http_requests_total{route="/api/v1/runs",method="GET",code="200"} 1' "the list"
has 'mlplane_http_request_duration_seconds_count{route="/api/v1/runs/{id}"} 3' "durations by template"
has 'mlplane_http_request_duration_seconds_bucket{route="/api/v1/runs/{id}",le="+Inf"} 3' "the histogram's last bucket"
for id in "$good" "$bad"; do
  assert_not_contains "$(cat "$M")" "$id" "a run id in /metrics"
done
ok "requests counted by route template and code; no run id in any label"

has 'mlplane_runs{pipeline="metered",state="Succeeded"} 1' "runs by state"
has 'mlplane_runs{pipeline="metered",state="Failed"} 1' "runs by state"
has 'mlplane_runs{pipeline="metered",state="Running"} 0' "every state has a series"
has 'mlplane_steps{pipeline="metered",state="Succeeded"} 2' "steps by state"
has 'mlplane_steps{pipeline="metered",state="Failed"} 1' "steps by state"
has 'mlplane_steps{pipeline="metered",state="Skipped"} 1' "steps by state"
has 'mlplane_step_duration_seconds_count{pipeline="metered"} 3' "the durations of the three steps that ran"
has 'mlplane_data_validation_failures_total{pipeline="metered"} 0' "a pipeline with runs has a validation counter, 0 included"
ok "runs, steps and step durations by pipeline"

has 'mlplane_node_capacity{node=' "node capacity"
grep -q '^mlplane_node_capacity{.*resource="cpu",unit="core"} [1-9]' "$M" || fail "cpu capacity: $(grep node_capacity "$M")"
has 'mlplane_node_allocated{' "node allocation"
has '# TYPE mlplane_queue_pending_workloads gauge' "queue depth"
has '# TYPE mlplane_model_versions gauge' "model versions"
grep -q '^mlplane_store_operation_duration_seconds_count{operation="select"} [1-9]' "$M" || fail "store latency: $(grep store_operation "$M")"
has "mlplane_build_info{version=\"$(mlp version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1)\"} 1" "build info"
ok "nodes, queues, model versions, store latency, build info"

if [ -n "${MLPLANE_FAKE_NVML:-}" ]; then
  has 'mlplane_gpu_utilization_ratio{gpu="0",name="NVIDIA H100 80GB HBM3",uuid="GPU-' "GPU utilisation"
  grep -q '^mlplane_gpu_utilization_ratio{gpu="0".*} 0.37$' "$M" || fail "utilisation 37%: $(grep gpu_ "$M")"
  has 'mlplane_gpu_memory_total_bytes{gpu="0"' "GPU memory"
  grep -q '^mlplane_gpu_memory_total_bytes{gpu="0".*} 85899345920$' "$M" || fail "GPU memory: $(grep gpu_ "$M")"
  has 'resource="nvidia.com/gpu",unit="integer"} 1' "the GPU in the node's capacity"
  ok "GPU utilisation and memory per device (fake NVML)"
fi

# the store's families follow the store: a third run shows up without a restart
mlp run "$T_DIR/p.yaml" >/dev/null 2>&1
metric_ok() { curl -sf "$U/metrics" | grep -F 'mlplane_runs{pipeline="metered",state="Succeeded"} 2' >/dev/null; }
wait_for "the third run in /metrics" 60 metric_ok
ok "the collector rereads the store"
stop_server "$SERVER_PID" || fail "the server did not exit 0 on SIGTERM"
finish
