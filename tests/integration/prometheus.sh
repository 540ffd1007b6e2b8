#!/bin/bash
# mlplane's metrics as Prometheus sees them, with real processes on loopback:
#   - `promtool check metrics` passes on /metrics of mlplane server, of a single
#     `mlplane serve` and of a Deployment (router with a canary);
#   - deploy/grafana/mlplane.json parses (jq), and every metric its expressions name is
#     exported by one of those three (or is one of the two names Monitors and data
#     validation will export);
#   - a real Prometheus (scripts/prometheus.sh: 127.0.0.1, a free port, its data under
#     this test's directory) scrapes the server and the Deployment, and its HTTP API
#     returns mlplane_build_info and the request counters of both.
# Without prometheus (Debian package prometheus) the Prometheus parts say "skip".
. "$(dirname "$0")/lib.sh"

register_bc 10 40
cat >"$T_DIR/d.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: web}
spec:
  model: {name: bc, version: 1}
  canary: {version: 2, percent: 20}
  replicas: {min: 1}
YAML
mlp apply -f "$T_DIR/d.yaml" >/dev/null || fail "apply"
# GPUs through the fake NVML, so that the GPU families are exported too
[ -n "${MLPLANE_FAKE_NVML:-}" ] || fail "MLPLANE_FAKE_NVML is not set (ctest sets it)"
MLPLANE_NVML_LIBRARY=$MLPLANE_FAKE_NVML FAKE_NVML_GPUS="NVIDIA H100 80GB HBM3:85899345920" start_server
SRV=$SERVER_URL SRV_PID=$SERVER_PID
# the server runs the applied Deployment
url_of() { mlp get deployments -o json | jq -r '.[] | select(.deployment == "web") | .url // empty'; }
ready() { DEP=$(url_of) && [ -n "$DEP" ] && [ "$(curl -sf "$DEP/admin/rollout" | jq '[.tracks[] | select(.ready == 1)] | length')" = 2 ]; }
wait_for "a ready replica of each version of the Deployment" 60 ready
DEP=$(url_of)
start_serve models:/bc/1 --listen 127.0.0.1:0
ONE=$SERVE_URL
for i in 1 2 3 4; do
  curl -s -o /dev/null -XPOST "$DEP/v2/models/web/infer" --data-binary @"$T_DIR/one.json"
  curl -s -o /dev/null -XPOST "$ONE/v2/models/bc/infer" --data-binary @"$T_DIR/one.json"
  curl -s -o /dev/null "$SRV/api/v1/runs"
done
curl -sf "$SRV/metrics" >"$T_DIR/server.txt" || fail "server /metrics"
curl -sf "$DEP/metrics" >"$T_DIR/deployment.txt" || fail "deployment /metrics"
curl -sf "$ONE/metrics" >"$T_DIR/serve.txt" || fail "serve /metrics"

if command -v promtool >/dev/null; then
  for f in server deployment serve; do
    promtool check metrics <"$T_DIR/$f.txt" || fail "promtool check metrics ($f): $(promtool check metrics <"$T_DIR/$f.txt" 2>&1)"
  done
  ok "promtool check metrics passes on the server's, a Deployment's and a model server's /metrics"
else
  echo "skip: promtool is not installed (Debian package prometheus): format lint not run"
fi

# --- the dashboard names only what mlplane exports ---
D="$MLPLANE_SRC/deploy/grafana/mlplane.json"
jq -e '.panels | length > 0' "$D" >/dev/null || fail "the dashboard does not parse or has no panels"
exported() {
  awk '/^# TYPE / { print $3; if ($4 == "histogram") { print $3 "_bucket"; print $3 "_sum"; print $3 "_count" } }' \
    "$T_DIR/server.txt" "$T_DIR/deployment.txt" "$T_DIR/serve.txt"
  echo mlplane_monitor_drift_detected  # exported by Monitors (a later change)
}
exported | sort -u >"$T_DIR/exported"
referenced() { jq -r '.. | .expr? // empty' "$1" | grep -o 'mlplane_[a-zA-Z0-9_:]*' | sort -u; }
referenced "$D" >"$T_DIR/referenced"
[ "$(wc -l <"$T_DIR/referenced")" -ge 20 ] || fail "the dashboard names few metrics: $(cat "$T_DIR/referenced")"
unknown=$(comm -23 "$T_DIR/referenced" "$T_DIR/exported")
[ -z "$unknown" ] || fail "the dashboard names metrics mlplane does not export: $unknown"
for m in mlplane_gpu_utilization_ratio mlplane_deployment_canary_percent mlplane_queue_pending_workloads; do
  grep -qx "$m" "$T_DIR/referenced" || fail "the dashboard lacks $m"
done
# the check itself catches a name that does not exist
jq '.panels[1].targets[0].expr = "rate(mlplane_no_such_metric_total[5m])"' "$D" >"$T_DIR/bad.json"
[ -n "$(comm -23 <(referenced "$T_DIR/bad.json") "$T_DIR/exported")" ] || fail "a made-up metric went unnoticed"
ok "the dashboard parses; the $(wc -l <"$T_DIR/referenced") metrics it names are all exported"

# --- a real Prometheus ---
if ! command -v prometheus >/dev/null; then
  echo "skip: prometheus is not installed (Debian package prometheus): not scraped by a real one"
  finish
  exit 0
fi
P="$T_DIR/prometheus"
trap '"$MLPLANE_SRC/scripts/prometheus.sh" stop "$P"; cleanup' EXIT
PURL=$("$MLPLANE_SRC/scripts/prometheus.sh" start "$P" "${SRV#http://}" "${DEP#http://}") || fail "prometheus did not start"
query() { curl -sf -G "$PURL/api/v1/query" --data-urlencode "query=$1"; }
series_of() { # QUERY TARGET: the query returns a series scraped from TARGET
  query "$1" | jq -e --arg t "$2" '.status == "success" and ([.data.result[] | select(.metric.instance == $t)] | length > 0)' >/dev/null
}
for t in "${SRV#http://}" "${DEP#http://}"; do
  wait_for "Prometheus to have mlplane_build_info of $t" 120 series_of 'mlplane_build_info' "$t"
done
wait_for "the server's request counter in Prometheus" 120 series_of 'mlplane_http_requests_total' "${SRV#http://}"
wait_for "the Deployment's request counter in Prometheus" 120 series_of 'mlplane_serve_requests_total' "${DEP#http://}"
v=$(query 'mlplane_build_info' | jq -r '.data.result[0].metric.version')
assert_eq "$v" "$(mlp version | awk '{print $2}')" "the version Prometheus scraped"
ok "a real Prometheus scrapes the server and the Deployment (build info, request counters)"
"$MLPLANE_SRC/scripts/prometheus.sh" stop "$P"
stop_server "$SRV_PID" || fail "the server did not exit 0"
finish
