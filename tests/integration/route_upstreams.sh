#!/bin/bash
# mlplane route: the Deployment router's split, sticky header and shadow in
# front of upstream HTTP servers (here `mlplane serve` processes of versions 1,
# 2 and 3 of model bc, as Kubernetes Services of one version's pods would be):
# a canary at 10% answers 100 +- 10 of 1,000 requests, a user keeps one
# version, the shadow gets copies, /metrics has the per-version series, a
# request for an upstream that is not there yet is held until it starts, and
# SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"

register_bc 10 40 70
BODY=$(cat "$T_DIR/one.json")
start_serve models:/bc/1 --listen 127.0.0.1:0; U1=$SERVE_URL; U1_PID=$SERVE_PID
start_serve models:/bc/2 --listen 127.0.0.1:0; U2=$SERVE_URL
start_serve models:/bc/3 --listen 127.0.0.1:0; U3=$SERVE_URL

# start_route ARGS...: `mlplane route bc --listen 127.0.0.1:0 ARGS` in the background;
# ROUTE_PID, ROUTE_URL (from its first line), ROUTE_OUT, ROUTE_ERR.
start_route() {
  local out="$T_DIR/route.$RANDOM"
  "$MLPLANE" route bc --listen 127.0.0.1:0 "$@" >"$out.out" 2>"$out.err" &
  ROUTE_PID=$!
  ALL_SERVER_PIDS="${ALL_SERVER_PIDS:-} $ROUTE_PID"
  ROUTE_OUT="$out.out"; ROUTE_ERR="$out.err"
  wait_for "mlplane route's first line" 20 grep -q "listening on" "$out.out"
  ROUTE_URL=$(sed -n 's/^mlplane route listening on \([^ ]*\) .*/\1/p' "$out.out" | head -1)
  [ -n "$ROUTE_URL" ] || fail "no URL in mlplane route's first line: $(cat "$out.out") $(cat "$out.err")"
}
metric() { curl -sf "$1/metrics" | awk -v k="$2" 'index($0, k " ") == 1 { print $2 }'; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

start_route --stable "1=$U1" --canary "2=$U2/" --canary-percent 10 --shadow "3=$U3" --shadow-rate 0.2 \
  --sticky-header X-User --threads 2
R=$ROUTE_URL
assert_contains "$(head -1 "$ROUTE_OUT")" "(route bc: stable 1 at $U1, canary 2 at $U2 (10%), shadow 3 at $U3 (0.2), sticky by X-User)" "first line"
wait_for "the route to be ready" 20 curl -sf "$R/v2/health/ready"
assert_eq "$(curl -sf "$R/v2/health/live" | jq -c .)" '{"live":true}' "live"
assert_eq "$(curl -sf "$R/v2/models/bc" | jq -r '.name + " " + (.versions | join(","))')" "bc 1" "metadata from the stable upstream"
curl -sf "$R/v2/models/bc/ready" >/dev/null || fail "model readiness through the route"

# --- the split: 1,000 requests on one connection (curl's URL globbing) ---
curl -s -XPOST "$R/v2/models/bc/infer?n=[1-1000]" -H 'Content-Type: application/json' -d "$BODY" -w '\n' >"$T_DIR/split.json"
jq -r '.model_version' "$T_DIR/split.json" | sort | uniq -c >"$T_DIR/counts.txt"
N1=$(awk '$2 == "1" { print $1 }' "$T_DIR/counts.txt"); N2=$(awk '$2 == "2" { print $1 }' "$T_DIR/counts.txt")
assert_eq "$((N1 + N2))" "1000" "every request answered by version 1 or 2 ($(tr '\n' ' ' <"$T_DIR/counts.txt"))"
[ "$N2" -ge 90 ] && [ "$N2" -le 110 ] || fail "the canary at 10% answered $N2 of 1000 requests"
P1=$(jq -c '.outputs[0].data' "$T_DIR/split.json" | sort -u | wc -l)
assert_eq "$P1" "2" "two versions, two predictions"
curl -sf -D "$T_DIR/h" -o /dev/null -XPOST "$R/v2/models/bc/versions/2/infer" -d "$BODY" || fail "infer naming version 2"
assert_contains "$(tr -d '\r' <"$T_DIR/h")" "X-Model-Version: 2" "a path naming a version goes to it"
ok "a canary at 10% answered $N2 of 1,000 requests; a path naming a version goes to its upstream"

# --- sticky ---
canary_users=0
for u in $(seq 1 30); do
  seen=$(for k in 1 2 3; do curl -sf -XPOST -H "X-User: user-$u" "$R/v2/models/bc/infer" -d "$BODY" | jq -r .model_version; done | sort -u)
  assert_eq "$(echo "$seen" | wc -l)" "1" "user-$u kept one version (got $(echo $seen))"
  [ "$seen" = 2 ] && canary_users=$((canary_users + 1))
done
ok "each of 30 users kept one version ($canary_users on the canary)"

# --- the shadow got copies; /metrics ---
Q=$(metric "$R" 'mlplane_deployment_shadow_copies_total{deployment="bc",result="queued"}')
[ "$Q" -ge 180 ] && [ "$Q" -le 240 ] || fail "the shadow at 0.2 got $Q copies of about 1,110 requests"
wait_for "the shadow's copies to be answered" 60 metric_is "$U3" 'mlplane_serve_requests_total{version="3",code="200"}' "$Q"
metric_is "$R" 'mlplane_serve_requests_total{version="3",code="200"}' "$Q" || fail "the route counts the shadow's answers"
curl -sf "$R/metrics" >"$T_DIR/metrics.txt"
for s in 'mlplane_serve_requests_total{version="1",code="200"}' 'mlplane_serve_requests_total{version="2",code="200"}' \
         'mlplane_serve_inflight{version="1"}' 'mlplane_serve_waiting{version="2"}' \
         'mlplane_serve_request_duration_seconds_bucket{version="2",le="+Inf"}' \
         'mlplane_deployment_split_requests_total{deployment="bc",track="canary",version="2"}' \
         'mlplane_deployment_split_requests_total{deployment="bc",track="stable",version="1"}'; do
  grep -qF "$s " "$T_DIR/metrics.txt" || fail "/metrics lacks $s"
done
assert_eq "$(metric "$R" 'mlplane_serve_waiting{version="2"}')" "0" "nothing waits"
if command -v promtool >/dev/null; then
  promtool check metrics <"$T_DIR/metrics.txt" || fail "promtool check metrics"
else
  echo "  (promtool is not installed: the exposition format is not checked by it)"
fi
ok "the shadow answered $Q copies; /metrics has the per-version series"
stop_server "$ROUTE_PID" || fail "mlplane route's exit status after SIGTERM"
ok "SIGTERM: mlplane route exits 0"

# --- a request held until its upstream starts ---
start_serve models:/bc/2 --listen 127.0.0.1:0; PORT=${SERVE_URL##*:}
stop_server "$SERVE_PID" || true # its port, now free, is where the canary will listen
start_route --stable "1=$U1" --canary "2=http://127.0.0.1:$PORT" --canary-percent 100 --ready-timeout 120
R=$ROUTE_URL
wait_for "the route to be ready" 20 curl -sf "$R/v2/health/ready"
curl -s -D "$T_DIR/held.h" -o "$T_DIR/held.json" -XPOST "$R/v2/models/bc/infer" -d "$BODY" &
HELD=$!
wait_for "the request to be held for the canary" 30 metric_is "$R" 'mlplane_serve_waiting{version="2"}' 1
start_serve models:/bc/2 --listen "127.0.0.1:$PORT"
wait "$HELD" || fail "the held request"
assert_eq "$(jq -r .model_version "$T_DIR/held.json")" "2" "the held request answered by the canary"
assert_contains "$(head -1 "$T_DIR/held.h" | tr -d '\r')" " 200" "the held request's status"
stop_server "$ROUTE_PID" || fail "exit status"
ok "a request for a canary that was not there was held, then answered once it started"

# --- a stable upstream that is not there: not ready, 503 after --ready-timeout ---
stop_server "$U1_PID" || true
start_route --stable "1=$U1" --ready-timeout 1
code=$(curl -s -o "$T_DIR/e.json" -w '%{http_code}' "$ROUTE_URL/v2/health/ready")
assert_eq "$code" "400" "not ready while the stable upstream is down"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$ROUTE_URL/v2/health/live")" "200" "live all the same"
code=$(curl -s -o "$T_DIR/e.json" -w '%{http_code}' -XPOST "$ROUTE_URL/v2/models/bc/infer" -d "$BODY")
assert_eq "$code" "503" "a request for a stable upstream that is down"
assert_contains "$(jq -r .error "$T_DIR/e.json")" "was not ready within 1000 ms" "503 in OIP's shape"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$ROUTE_URL/metrics")" "405" "POST /metrics"
stop_server "$ROUTE_PID" || fail "exit status"
ok "an upstream that is down: not ready, 503 after --ready-timeout"

# --- usage errors ---
for args in "--stable 1" "--stable 1=ftp://x" "--stable 1=$U1 --canary-percent 5" "--stable 1=$U1 --canary 1=$U2" \
            "--stable 1=$U1 --canary 2=$U2 --canary-percent 101" "--stable 1=$U1 --shadow-rate 0.5"; do
  rc=0; out=$(mlp route bc --listen 127.0.0.1:0 $args 2>&1) || rc=$?
  assert_eq "$rc" "2" "route bc $args: exit status ($out)"
done
rc=0; out=$(mlp route bc --listen 127.0.0.1:0 2>&1) || rc=$?
assert_contains "$out" "needs --stable VERSION=URL" "no stable upstream"
ok "malformed upstreams, a percent without a canary, two upstreams of one version: usage errors"
finish
