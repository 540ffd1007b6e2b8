#!/bin/bash
# A Deployment served for real (mlplane apply, mlplane serve deployment/NAME)
# over loopback HTTP, with three registered versions of model bc: a canary at
# 10% gets 10% +- 2% of 10,000 requests (and the split's counts agree with
# the X-Model-Version headers); each version answers with its own
# predictions; a sticky header keeps one user on one version; a shadow named by
# an alias gets copies whose answers are only logged; the request log holds a
# sample of the requests with features, prediction, version and latency;
# promote and rollback under load drop no request and move the traffic; the
# recorded split outlives a restart and is reset by applying the Deployment
# again; bad rollout commands are refused with the reason.
. "$(dirname "$0")/lib.sh"

register_bc 10 40 20
start_server
curl -sf -XPOST "$SERVER_URL/api/2.0/mlflow/registered-models/alias" \
  -d '{"name": "bc", "alias": "challenger", "version": "3"}' >/dev/null || fail "setting the alias"
stop_server "$SERVER_PID" || fail "mlplane server exit status"

ROW=$BC_ROW
cat >"$T_DIR/d.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: web}
spec:
  model: {name: bc, version: 1}
  canary: {version: 2, percent: 10}
  shadow: {alias: challenger, sampleRate: 0.5}
  stickyHeader: X-User
  replicas: {min: 1}
  requestLog: {sampleRate: 0.1}
YAML
assert_eq "$(mlp apply -f "$T_DIR/d.yaml")" "Deployment/web applied" "apply"

start_serve deployment/web --listen 127.0.0.1:0
R=$SERVE_URL
U="$R/v2/models/web"
assert_contains "$(head -1 "$SERVE_OUT")" \
  "(deployment web: model bc version 1, canary version 2 at 10%, shadow version 3 at 0.5, 1 replica)" "first line"
status() { curl -sf "$R/admin/rollout"; }
all_ready() { [ "$(status | jq '[.tracks[] | select(.ready == 1)] | length')" = 3 ]; }
wait_for "a ready replica of each version" 30 all_ready

# load N OUT [CURL ARGS]: N single-row requests over 8 connections; "STATUS VERSION" a line in OUT
load() {
  local n=$1 out=$2; shift 2
  awk -v u="$U/infer" -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' \
    >"$out.cfg"
  curl -s --parallel --parallel-immediate --parallel-max 8 -XPOST -H 'Content-Type: application/json' "$@" \
    --data-binary @"$T_DIR/one.json" -w '%{http_code} %header{x-model-version}\n' -K "$out.cfg" >"$out" 2>/dev/null || true
}
count() { grep -c "^$1\$" "$2" || true; }

rc=0; out=$(mlp serve deployment/web --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "a second process for a running deployment"
assert_contains "$out" "deployment web runs already (pid $SERVE_PID," "its message"

# --- the canary's share ---
load 10000 "$T_DIR/split.txt"
N1=$(count "200 1" "$T_DIR/split.txt"); N2=$(count "200 2" "$T_DIR/split.txt")
assert_eq "$((N1 + N2))" "10000" "requests answered 200 by version 1 or 2 ($(sort "$T_DIR/split.txt" | uniq -c | tr '\n' ' '))"
[ "$N2" -ge 800 ] && [ "$N2" -le 1200 ] || fail "the canary at 10% answered $N2 of 10000 requests"
assert_eq "$(status | jq -c '[.tracks[] | .requests][0:2]')" "[$N1,$N2]" "the split's counts"
metric() { curl -sf "$R/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { print $2 }'; }
assert_eq "$(metric 'mlplane_deployment_split_requests_total{deployment="web",track="canary",version="2"}')" "$N2" "canary requests in /metrics"
assert_eq "$(metric 'mlplane_deployment_canary_percent{deployment="web"}')" "10" "canary percent in /metrics"
assert_eq "$(metric 'mlplane_serve_requests_total{version="2",code="200"}')" "$N2" "version 2's answers in /metrics"
ok "a canary at 10% answered $N2 of 10,000 requests (10% +- 2%); the split's counts and /metrics agree"

# --- each version answers with its own prediction ---
for v in 1 2 3; do
  want=$(eval echo "\$P$v")
  curl -sf -D "$T_DIR/h" -o "$T_DIR/r.json" -XPOST "$U/versions/$v/infer" --data-binary @"$T_DIR/one.json" || fail "infer on version $v"
  assert_eq "$(grep -o '"data":\[[^]]*\]' "$T_DIR/r.json")" "\"data\":[$want]" "version $v's own prediction"
  assert_contains "$(tr -d '\r' <"$T_DIR/h")" "X-Model-Version: $v" "version $v's header"
done
for i in $(seq 30); do
  curl -sf -D "$T_DIR/h" -o "$T_DIR/r.json" -XPOST "$U/infer" --data-binary @"$T_DIR/one.json" || fail "routed infer"
  v=$(tr -d '\r' <"$T_DIR/h" | sed -n 's/^X-Model-Version: //p')
  assert_eq "$(grep -o '"data":\[[^]]*\]' "$T_DIR/r.json")" "\"data\":[$(eval echo "\$P$v")]" "routed request answered by $v"
done
ok "each version answers with its own predictions, routed or asked for by number"

# --- sticky by X-User ---
canary_users=0
for u in $(seq 1 60); do
  a=$(curl -sf -o /dev/null -D - -H "X-User: user-$u" -XPOST "$U/infer" --data-binary @"$T_DIR/one.json" | tr -d '\r' | sed -n 's/^X-Model-Version: //p')
  b=$(curl -sf -o /dev/null -D - -H "X-User: user-$u" -XPOST "$U/infer" --data-binary @"$T_DIR/one.json" | tr -d '\r' | sed -n 's/^X-Model-Version: //p')
  assert_eq "$b" "$a" "user-$u's two requests"
  [ "$a" = 2 ] && canary_users=$((canary_users + 1))
done
[ "$canary_users" -ge 1 ] && [ "$canary_users" -le 20 ] || fail "$canary_users of 60 users on the canary at 10%"
ok "one user, one version ($canary_users of 60 users on the canary)"

# --- the request log and the shadow ---
LOG="$MLPLANE_HOME/serving/web/requests.log"
for i in $(seq 1 400); do printf '{"id":"req-%d","inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":[%s]}]}\n' "$i" "$ROW"; done \
  >"$T_DIR/ids.jsonl"
while read -r body; do curl -sf -o /dev/null -XPOST "$U/infer" -d "$body" || fail "request with an id"; done <"$T_DIR/ids.jsonl"
shadow_done() { [ "$(status | jq '.tracks[2].inflight + .tracks[2].waiting')" = 0 ]; }
wait_for "the shadow's copies" 20 shadow_done
grep '"id":"req-' "$LOG" >"$T_DIR/ids.log" || fail "no line of the requests with ids in $LOG"
served=$(grep -vc '"shadow":true' "$T_DIR/ids.log" || true)
[ "$served" -ge 15 ] && [ "$served" -le 70 ] || fail "$served of 400 requests logged at sampleRate 0.1"
jq -e 'has("time") and has("latency_ms") and .model == "web" and (.inputs | length) == 1 and (.inputs[0] | length) == 30' \
  "$T_DIR/ids.log" >/dev/null || fail "a log line lacks a field: $(head -1 "$T_DIR/ids.log")"
jq -r 'select(.shadow != true) | .version + " " + (.outputs[0] | tostring)' "$T_DIR/ids.log" | sort -u >"$T_DIR/answers"
while read -r v p; do
  awk -v a="$p" -v b="$(eval echo "\$P$v")" 'BEGIN { exit !((a - b) < 1e-6 && (b - a) < 1e-6) }' || fail "version $v logged $p, predicts $(eval echo "\$P$v")"
done <"$T_DIR/answers"
jq -r 'select(.shadow == true) | .version' "$T_DIR/ids.log" | sort -u >"$T_DIR/sv"
assert_eq "$(cat "$T_DIR/sv")" "3" "the shadow's lines are version 3's"
# every shadow line's id has the served answer's line too (one id, one sampling decision)
for id in $(jq -r 'select(.shadow == true) | .id' "$T_DIR/ids.log"); do
  [ "$(jq -r --arg id "$id" 'select(.id == $id and .shadow != true) | .id' "$T_DIR/ids.log")" = "$id" ] || fail "shadow line $id without its served line"
done
nshadow=$(jq -r 'select(.shadow == true) | .id' "$T_DIR/ids.log" | wc -l)
[ "$nshadow" -ge 3 ] || fail "only $nshadow shadow lines for $served sampled requests at shadow sampleRate 0.5"
assert_eq "$(status | jq '.tracks[2].track + " " + (.tracks[2].failed | tostring)')" '"shadow 0"' "no failed copy"
ok "the request log has $served sampled requests of 400 with features, prediction and version; $nshadow shadow answers logged beside them"

# --- promote and rollback, at rest and under load ---
out=$(mlp rollout promote web) || fail "promote: $out"
assert_eq "$out" "deployment web: the canary (version 2) gets 100% of the requests (was 10%)" "promote's line"
load 300 "$T_DIR/p.txt"
assert_eq "$(count "200 2" "$T_DIR/p.txt")" "300" "after promote every request goes to version 2"
assert_eq "$(mlp rollout status web -o json | jq -c '[.percentFrom, .tracks[1].percent, .tracks[0].percent]')" '["rollout",100,0]' "status after promote"
mlp rollout rollback web >/dev/null || fail "rollback"
load 300 "$T_DIR/r.txt"
assert_eq "$(count "200 1" "$T_DIR/r.txt")" "300" "after rollback every request goes to version 1"
base=$(status | jq '.tracks[0].requests + .tracks[1].requests')
past() { [ "$(status | jq '.tracks[0].requests + .tracks[1].requests')" -ge "$1" ]; }
load 6000 "$T_DIR/live.txt" &
LOADPID=$!
wait_for "load to start" 30 past $((base + 500))
mlp rollout promote web --percent 50 >/dev/null || fail "promote to 50%"
wait_for "load to go on" 30 past $((base + 2000))
mlp rollout promote web >/dev/null || fail "promote to 100%"
wait_for "load to go on" 30 past $((base + 3500))
mlp rollout rollback web >/dev/null || fail "rollback under load"
wait "$LOADPID" || true
L1=$(count "200 1" "$T_DIR/live.txt"); L2=$(count "200 2" "$T_DIR/live.txt")
assert_eq "$((L1 + L2))" "6000" "requests answered 200 during promote and rollback ($(sort "$T_DIR/live.txt" | uniq -c | tr '\n' ' '))"
[ "$L1" -gt 0 ] && [ "$L2" -gt 0 ] || fail "both versions should have answered under load: $L1 and $L2"
ok "promote to 50%, to 100% and rollback under load: 6000 of 6000 answered ($L1 by version 1, $L2 by version 2)"

# --- the split is recorded: it outlives a restart; applying again resets it ---
stop_server "$SERVE_PID" || fail "exit status on SIGTERM"
[ ! -e "$MLPLANE_HOME/serving/web/router.json" ] || fail "router.json left behind"
[ -z "$(pgrep -f "$MLPLANE_HOME" || true)" ] || fail "processes left behind: $(pgrep -af "$MLPLANE_HOME")"
assert_contains "$(mlp rollout status web)" "Serving:     no" "status of a stopped deployment"
mlp rollout promote web --percent 30 >/dev/null || fail "promote a stopped deployment"
start_serve deployment/web --listen 127.0.0.1:0
assert_contains "$(head -1 "$SERVE_OUT")" "canary version 2 at 30%" "the recorded split after a restart"
stop_server "$SERVE_PID" || fail "exit status"
mlp apply -f "$T_DIR/d.yaml" >/dev/null
assert_eq "$(mlp rollout status web -o json | jq -c '[.percentFrom, .tracks[1].percent]')" '["spec",10]' "applied again"
ok "the recorded split outlives a restart; applying the Deployment again resets it"

# --- errors ---
rc=0; out=$(mlp rollout promote nope 2>&1) || rc=$?
assert_eq "$rc" "1" "promote of an unknown deployment"
assert_contains "$out" 'no Deployment "nope" is applied' "its message"
rc=0; out=$(mlp rollout promote web --percent 101 2>&1) || rc=$?
assert_eq "$rc" "2" "--percent 101"
rc=0; out=$(mlp rollout frob web 2>&1) || rc=$?
assert_eq "$rc" "2" "an unknown verb"
assert_contains "$out" "expected status, promote or rollback" "its message"
rc=0; out=$(mlp serve deployment/nope --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "serving an unknown deployment"
assert_contains "$out" 'no Deployment "nope" is applied' "its message"
sed 's/version: 2, percent/version: 7, percent/' "$T_DIR/d.yaml" >"$T_DIR/d7.yaml"
mlp apply -f "$T_DIR/d7.yaml" >/dev/null
rc=0; out=$(mlp serve deployment/web --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "a canary version the registry lacks"
assert_contains "$out" "spec.canary" "the message names the field"
assert_contains "$out" "7" "the message names the version"
ok "unknown deployments, bad percents and verbs, and a missing version are refused with the reason"
finish
