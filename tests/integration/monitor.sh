#!/bin/bash
# Monitors, with real processes: model bc registered by a pipeline (its version's
# tag mlplane.trainingData names the CSV it was trained on), served by a
# Deployment under mlplane server that logs every request, and a Monitor of it:
#   - before any request: the check waits (no log yet); get monitors says so;
#   - requests with rows of the training data: the check finds no drift, against
#     the version's training data (the default reference);
#   - requests with four features shifted by several standard deviations: drift
#     found, per column; the webhook gets the JSON alert once (the cooldown holds
#     at the next drifted check); events DriftDetected, WebhookSent;
#   - the server's own schedule checks it too (a new check appears on its own);
#   - describe monitor / get monitors -o json|yaml show the checks, the history, events;
#   - a data Monitor over files (spec.data against spec.reference), a Monitor whose
#     reference lacks the columns, and one of a version without training data
#     (Failed, with why); monitor check of an unknown Monitor; spec errors.
. "$(dirname "$0")/lib.sh"

register_bc 10
DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
tag=$(mlp models get bc -o json | jq -r '.model_versions[0].tags[]? | select(.key == "mlplane.trainingData") | .value')
assert_eq "$tag" "$DATA" "version 1's training data tag"
ok "a registered version records its training data (tag mlplane.trainingData)"

# the webhook: a stand-in receiver on loopback that appends each POST body to a file
HOOK_LOG="$T_DIR/hook.log"
cat >"$T_DIR/hook.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "ab") as f:
            f.write(body + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 "$T_DIR/hook.py" "$T_DIR/hook.port" "$HOOK_LOG" &
HOOK_PID=$!
wait_for "the webhook receiver" 10 test -s "$T_DIR/hook.port"
HOOK_URL="http://127.0.0.1:$(cat "$T_DIR/hook.port")/alert"

cat >"$T_DIR/web.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: web}
spec:
  model: {name: bc, version: 1}
  requestLog: {sampleRate: 1}
---
apiVersion: mlplane.dev/v1
kind: Monitor
metadata: {name: web-drift}
spec:
  deployment: web
  schedule: {intervalSeconds: 3600}
  window: {rows: 200}
  minRows: 100
  columns: [f0, f1, f2, f3]
  actions:
    cooldownSeconds: 3600
    webhook: {url: "$HOOK_URL"}
YAML
mlp apply -f "$T_DIR/web.yaml" >/dev/null || fail "apply"
assert_eq "$(mlp get monitors -o json | jq -r '.[0] | [.name, .spec.deployment, .spec.window.rows] | join(" ")')" \
  "web-drift web 200" "get monitors -o json"

# the first check, with no request yet: it waits
out=$(mlp monitor check web-drift) && rc=0 || rc=$?
assert_eq "$rc" "0" "exit status of a waiting check"
assert_contains "$out" "Status:        Waiting" "waiting"
assert_contains "$out" "no request log yet" "why it waits"

start_server
url_of() { mlp get deployments -o json | jq -r --arg n "$1" '.[] | select(.deployment == $n) | .url // empty'; }
has_url() { U=$(url_of web) && [ -n "$U" ]; }
wait_for "deployment web to have a URL" 30 has_url
has_url || fail "no URL: $(mlp get deployments -o json 2>&1)"
ready() { curl -sf "$U/v2/health/ready" >/dev/null; }
wait_for "deployment web to be ready" 30 ready

# send FILE: one request with every row of the CSV FILE (30 features each)
send() {
  local n rows
  n=$(wc -l <"$1")
  rows=$(paste -sd, "$1")
  printf '{"inputs":[{"name":"input-0","shape":[%d,30],"datatype":"FP32","data":[%s]}]}' "$n" "$rows" >"$T_DIR/req.json"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$U/v2/models/web/infer" --data-binary @"$T_DIR/req.json")" = 200 ] ||
    fail "inference of $1"
}
# 200 rows of the training data itself (every other row): no drift
sed -n '2,$p' "$DATA" | cut -d, -f1-30 | awk 'NR % 2 == 0 && ++n <= 200' >"$T_DIR/same.csv"
send "$T_DIR/same.csv"
out=$(mlp monitor check web-drift -o json) && rc=0 || rc=$?
assert_eq "$rc" "0" "exit status without drift"
assert_eq "$(jq -r '[.status, .version, .rows.current, .rows.reference, .drift.columns, .drift.drifted] | join(" ")' <<<"$out")" \
  "NoDrift 1 200 569 4 0" "no drift against the training data"
assert_eq "$(jq -r '[.columns[] | .test] | unique | join(",")' <<<"$out")" "ks" "KS for a reference of at most 1000 rows"
ok "rows of the training data: no drift (KS against the served version's training data)"

# the same rows with f0..f3 shifted by 5 standard deviations' worth: drift
awk -F, -v OFS=, '{ $1 += 20; $2 += 25; $3 += 150; $4 += 2000; print }' "$T_DIR/same.csv" >"$T_DIR/shifted.csv"
send "$T_DIR/shifted.csv"
out=$(mlp monitor check web-drift -o json) && rc=0 || rc=$?
assert_eq "$rc" "1" "exit status on drift"
assert_eq "$(jq -r '[.status, .drift.columns, .drift.drifted, .drift.dataset_drift] | join(" ")' <<<"$out")" \
  "Drift 4 4 true" "drift in the four shifted columns"
assert_eq "$(jq -r '[.columns[] | select(.drifted) | .column] | join(",")' <<<"$out")" "f0,f1,f2,f3" "the drifted columns"
wait_for "the webhook's alert" 10 test -s "$HOOK_LOG"
assert_eq "$(head -1 "$HOOK_LOG" | jq -r '[.monitor, .status, .deployment, .version, .drifted] | join(" ")')" \
  "web-drift Drift web 1 4" "the alert's JSON"
ok "shifted features: drift found per column, exit 1, the webhook's JSON alert"

# drift again: recorded, but the webhook waits out its cooldown
rc=0; err=$(mlp monitor check web-drift 2>&1 >/dev/null) || rc=$?
assert_eq "$rc" "1" "drift again: exit status ($err)"
assert_eq "$(wc -l <"$HOOK_LOG")" "1" "one alert within the cooldown"
d=$(mlp describe monitor web-drift -o json 2>&1) || fail "describe monitor: $d"
assert_eq "$(jq -r '[.history[] | .status] | join(",")' <<<"$d")" "Drift,Drift,NoDrift,Waiting" "the history, newest first"
assert_eq "$(jq -r '[.events[] | .type] | join(",")' <<<"$d")" "Waiting,WebhookSent,DriftDetected" "the events, least recently seen first"
assert_eq "$(jq -r '.events[] | select(.type == "DriftDetected") | .count' <<<"$d")" "2" "the same drift counted twice"
table=$(mlp describe monitor web-drift 2>&1) || fail "describe monitor: $table"
assert_contains "$table" "Watches:       deployment/web" "describe: what it watches"
assert_contains "$table" "Drifted:       4 of 4 columns (100%)" "describe: the verdict"
assert_eq "$(mlp get monitors | awk 'NR == 2 { print $1, $2, $3, $4, $5 }')" "web-drift deployment/web Drift 4/4 1" \
  "get monitors table"
y=$(mlp get monitors -o yaml 2>&1) || fail "get monitors: $y"
assert_contains "$y" "name: web-drift" "get monitors -o yaml"
ok "the cooldown holds; describe monitor and get monitors show checks, history and events"

# the server's /metrics: each column's verdict and the data set's, from the last check
metric_is() { curl -sf "$SERVER_URL/metrics" | grep -xF "$1" >/dev/null; }
wait_for "the drift gauges on /metrics" 30 metric_is 'mlplane_monitor_drift_detected{monitor="web-drift",column="f0"} 1'
curl -sf "$SERVER_URL/metrics" >"$T_DIR/metrics.txt"
assert_contains "$(cat "$T_DIR/metrics.txt")" 'mlplane_monitor_dataset_drift{monitor="web-drift"} 1' "dataset gauge"
assert_contains "$(cat "$T_DIR/metrics.txt")" 'mlplane_monitor_last_check_status{monitor="web-drift",status="Drift"} 1' "status gauge"
assert_contains "$(cat "$T_DIR/metrics.txt")" 'mlplane_monitor_drifted_columns_ratio{monitor="web-drift"} 1' "share gauge"
if command -v promtool >/dev/null; then
  promtool check metrics <"$T_DIR/metrics.txt" || fail "promtool check metrics: $(promtool check metrics <"$T_DIR/metrics.txt" 2>&1)"
fi
ok "GET /metrics: mlplane_monitor_drift_detected per column, the data set's drift, the last check's status"

# the server checks on its own schedule: a Monitor due every second
cat >"$T_DIR/fast.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Monitor
metadata: {name: fast}
spec:
  deployment: web
  schedule: {intervalSeconds: 1}
  window: {rows: 200}
  columns: [f0]
YAML
mlp apply -f "$T_DIR/fast.yaml" >/dev/null || fail "apply fast"
checks() { mlp describe monitor fast -o json | jq '.history | length'; }
two_checks() { [ "$(checks)" -ge 2 ]; }
wait_for "the server's scheduled checks of fast" 30 two_checks
assert_eq "$(mlp describe monitor fast -o json | jq -r '.lastCheck.status')" "Drift" "fast's scheduled check"
ok "mlplane server checks the applied Monitors on their schedules"

# a data Monitor: a file against a reference file
head -1 "$DATA" >/dev/null
{ echo "a,b"; for i in $(seq 1 300); do echo "$i,x$((i % 3))"; done; } >"$T_DIR/ref.csv"
{ echo "a,b"; for i in $(seq 1 300); do echo "$((i + 1000)),x$((i % 3))"; done; } >"$T_DIR/today.csv"
cat >"$T_DIR/data.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Monitor
metadata: {name: files}
spec:
  data: {path: today.csv}
  reference: {path: ref.csv}
  driftShare: 0.5
---
apiVersion: mlplane.dev/v1
kind: Monitor
metadata: {name: nocols}
spec:
  data: {path: today.csv}
  reference: {path: $DATA}
YAML
mlp apply -f "$T_DIR/data.yaml" >/dev/null || fail "apply data monitors"
out=$(mlp monitor check files -o json) && rc=0 || rc=$?
assert_eq "$rc" "1" "files: drift"
assert_eq "$(jq -r '[.columns[] | "\(.column):\(.kind):\(.drifted)"] | join(" ")' <<<"$out")" \
  "a:numeric:true b:categorical:false" "files: a numeric column drifted, a category column did not"
err=$(mlp monitor check nocols 2>&1) && rc=0 || rc=$?
assert_eq "$rc" "2" "no common columns: exit 2"
assert_contains "$err" "no column in common" "no common columns: why"
ok "a data Monitor over files; a reference without the columns fails with why"

# errors: an unknown Monitor, spec errors
err=$(mlp monitor check nope 2>&1) && fail "unknown monitor: exit 0" || true
assert_contains "$err" 'monitor "nope" not found' "unknown monitor"
printf 'apiVersion: mlplane.dev/v1\nkind: Monitor\nmetadata: {name: bad}\nspec:\n  deployment: web\n  stattest: anderson\n' >"$T_DIR/bad.yaml"
err=$(mlp apply -f "$T_DIR/bad.yaml" 2>&1) && fail "bad monitor applied" || true
assert_contains "$err" "bad.yaml:6:13" "the bad field's position"
assert_eq "$(mlp get monitors -o json | jq -r '[.[].name] | sort | join(",")')" "fast,files,nocols,web-drift" "nothing applied"
mlp delete monitor fast >/dev/null || fail "delete monitor"
assert_eq "$(mlp get monitors -o json | jq -r '[.[].name] | sort | join(",")')" "files,nocols,web-drift" "deleted"
ok "errors: an unknown Monitor, a spec error at its line:col (nothing applied); delete monitor"

# the same through the server (--server): get, describe, check
assert_eq "$(mlp --server "$SERVER_URL" get monitors -o json | jq -r '[.[].name] | sort | join(",")')" \
  "files,nocols,web-drift" "get monitors --server"
assert_eq "$(mlp --server "$SERVER_URL" describe monitor web-drift -o json | jq -r '.lastCheck.status')" "Drift" \
  "describe monitor --server"
rc=0; out=$(mlp --server "$SERVER_URL" monitor check files -o json) || rc=$?
assert_eq "$rc" "1" "monitor check --server: drift"
assert_eq "$(jq -r .status <<<"$out")" "Drift" "monitor check --server: the check"
err=$(mlp --server "$SERVER_URL" monitor check nope 2>&1) && fail "unknown monitor through the server: exit 0" || true
assert_contains "$err" 'monitor "nope" not found' "unknown monitor through the server"
ok "get monitors, describe monitor and monitor check through the server"

stop_server "$SERVER_PID" || fail "server exit status"
finish
