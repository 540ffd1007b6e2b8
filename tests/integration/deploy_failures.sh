#!/bin/bash
# Deployments that cannot start, under mlplane server, in plain sight (version
# 1 of model bc registered by a pipeline with `register:`):
#   - before any server runs, get deployments says Stopped and why;
#   - "busy" listens on a port another process holds, "ghost" names a version
#     the registry lacks, "good" is fine: get deployments (table and JSON)
#     shows busy and ghost CrashLoopBackOff with restarts above 0 and the
#     error of their last exit, good Running 1/1 with 0 restarts;
#   - rollout status and describe deployment show the error and the events
#     (Started, Exited, BackOff; good's Started and Ready), locally and
#     through --server (GET /api/v1/deployments[/NAME]);
#   - good applied again with a version the registry lacks: CrashLoopBackOff
#     with the error, while its old process serves (READY 1/1);
#   - the port freed: busy becomes Running by itself (its last error and
#     restarts kept, a Ready event); ghost applied again with version 1:
#     Updated, Running, its restarts start over;
#   - the server stopped: every deployment reads Stopped ("the server stops");
#   - delete: its state and events go with it.
. "$(dirname "$0")/lib.sh"

register_bc 3

# deployment NAME YAML-SPEC-LINES: applies a Deployment of model bc
deployment() {
  printf 'apiVersion: mlplane.dev/v1\nkind: Deployment\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2" >"$T_DIR/$1.yaml"
  mlp apply -f "$T_DIR/$1.yaml" >/dev/null || fail "apply $1"
}
# status NAME FIELD [mlplane options...]: a field of its get deployments -o json "status"
status() {
  local n=$1 f=$2
  shift 2
  mlp "$@" get deployments -o json | jq -r --arg n "$n" --arg f "$f" '.[] | select(.deployment == $n) | .status[$f] // empty'
}
is_state() { [ "$(status "$1" state)" = "$2" ]; }
restarted() { [ "$(status "$1" restarts)" -ge "$2" ] && is_state "$1" CrashLoopBackOff; }
# row NAME: its row of the get deployments table, columns squeezed
row() { mlp get deployments | tr -s ' ' | grep "^$1 "; }

# --- a port in use: an mlplane serve of version 1 holds it ---
start_serve models:/bc/1 --listen 127.0.0.1:0
HOLDER_PID=$SERVE_PID
BUSY=${SERVE_URL#http://}
deployment busy "  model: {name: bc, version: 1}
  listen: \"$BUSY\""
deployment ghost "  model: {name: bc, version: 9}"
deployment good "  model: {name: bc, version: 1}"
assert_eq "$(status good state)" "Stopped" "state before any server runs"
assert_contains "$(status good message)" "not running: mlplane server runs every applied Deployment" "why, before any server runs"
assert_contains "$(row good)" "good 0/1 Stopped 0 " "table before any server runs"
ok "before a server runs: Stopped, 0/1, and why"

start_server
S=$SERVER_URL
wait_for "busy to be restarted twice" 60 restarted busy 2
wait_for "ghost to be restarted twice" 60 restarted ghost 2
wait_for "good to be Running" 60 is_state good Running
LISTEN_ERR="cannot listen on $BUSY: Address already in use"
assert_contains "$(status busy message)" "exit status 1: $LISTEN_ERR" "busy's message"
assert_contains "$(status busy lastError)" "$LISTEN_ERR" "busy's last error"
assert_contains "$(status ghost message)" 'Deployment "ghost" spec.model' "ghost's message"
assert_contains "$(status ghost message)" "version=9" "ghost's message names the version"
assert_eq "$(status good ready)/$(status good desired) $(status good restarts)" "1/1 0" "good's replicas and restarts"
# the table: NAME READY STATUS RESTARTS AGE ... MESSAGE (busy may be between two tries: Starting)
wait_for "busy's row to read CrashLoopBackOff" 60 sh -c "'$MLPLANE' get deployments | tr -s ' ' | grep -q '^busy 0/1 CrashLoopBackOff '"
r=$(row busy)
[ "$(echo "$r" | cut -d' ' -f4)" -gt 0 ] || fail "busy's RESTARTS: $r"
assert_contains "$r" "$LISTEN_ERR" "busy's row shows the error"
assert_contains "$(row ghost)" "version=9" "ghost's row shows the error"
assert_contains "$(row good)" "good 1/1 Running 0 " "good's row"
ok "under mlplane server: busy and ghost CrashLoopBackOff with restarts and their errors, good Running 1/1 (table and JSON)"

# --- rollout status and describe deployment: the error and the events ---
for via in "" "--server $S"; do
  # shellcheck disable=SC2086
  out=$(mlp $via rollout status busy)
  assert_contains "$out" "Message:     exit status 1: $LISTEN_ERR" "rollout status busy $via"
  assert_contains "$out" "Serving:     no (" "rollout status busy $via"
  for t in Started Exited BackOff; do assert_contains "$out" "$t " "rollout status busy's events $via"; done
  # shellcheck disable=SC2086
  out=$(mlp $via describe deployment busy)
  assert_contains "$out" "Name:        busy" "describe busy $via"
  assert_contains "$out" "$LISTEN_ERR" "describe busy $via"
  assert_contains "$out" "Supervisor:  mlplane server (pid $SERVER_PID)" "describe busy $via"
  for t in Started Exited BackOff; do assert_contains "$(echo "$out" | sed -n '/^Events:/,$p')" "$t " "describe busy's events $via"; done
  # shellcheck disable=SC2086
  out=$(mlp $via describe deployment ghost)
  assert_contains "$out" "version=9" "describe ghost $via"
  # shellcheck disable=SC2086
  out=$(mlp $via describe deployment good -o json)
  assert_eq "$(echo "$out" | jq -r '[.events[].type] | join(" ")')" "Started Ready" "good's events $via"
  assert_eq "$(echo "$out" | jq -r '.status.state')" "Running" "good's state $via"
  # shellcheck disable=SC2086
  n=$(mlp $via describe deployment busy -o json | jq '[.events[] | select(.type == "Exited")][0].count')
  [ "$n" -ge 2 ] || fail "busy's Exited events counted once each ($n) $via"
done
# (between two tries a deployment reads Starting, its last error still its message)
assert_eq "$(mlp --server "$S" get deployments -o json | jq -c '[.[] | [.deployment, (.status.state | test("^(CrashLoopBackOff|Starting)$")), .status.restarts > 0, (.status.message // "" | test("Address already in use|version=9"))]] | map(select(.[0] != "good"))')" \
  '[["busy",true,true,true],["ghost",true,true,true]]' "get deployments through the server"
curl -sf "$S/api/v1/deployments/busy" | jq -e '.events | length > 0' >/dev/null || fail "GET /api/v1/deployments/busy has no events"
rc=0; out=$(mlp describe deployment nope 2>&1) || rc=$?
assert_eq "$rc" "1" "describe of an unknown deployment exits 1"
assert_contains "$out" '"nope"' "describe of an unknown deployment names it"
ok "rollout status and describe deployment show the error and the events (Started, Exited counted, BackOff; good: Started, Ready), locally and through --server"

# --- good applied again with a version the registry lacks: the old process serves meanwhile ---
OLD_PID=$(mlp rollout status good -o json | jq -r .pid)
deployment good "  model: {name: bc, version: 9}"
wait_for "good's new spec to be restarted" 60 restarted good 1
assert_contains "$(status good message)" "version=9" "good's message during the hand-over"
assert_contains "$(status good message)" "the previous spec's process (pid $OLD_PID) serves meanwhile" "good's message during the hand-over"
assert_eq "$(status good ready)/$(status good desired)" "1/1" "good's replicas (the old process's) during the hand-over"
GOOD_URL=$(mlp get deployments -o json | jq -r '.[] | select(.deployment == "good") | .url')
[ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$GOOD_URL/v2/models/good/infer" --data-binary @"$T_DIR/one.json")" = 200 ] ||
  fail "good's old process does not answer during the hand-over"
deployment good "  model: {name: bc, version: 1}"
wait_for "good to be Running again" 60 is_state good Running
wait_for "good's old process to stop" 60 sh -c "! kill -0 $OLD_PID 2>/dev/null"
assert_eq "$(status good restarts)" "0" "good's restarts once applied again"
ok "applied again with a missing version: CrashLoopBackOff, the error and the old process serving (1/1, answers); applied again: Running"

# --- the port freed: busy recovers; ghost applied again with a version that exists ---
stop_server "$HOLDER_PID" || true
wait_for "busy to be Running once the port is free" 60 is_state busy Running
[ "$(status busy restarts)" -gt 0 ] || fail "busy's restarts after it recovered: $(status busy restarts)"
assert_contains "$(status busy lastError)" "$LISTEN_ERR" "busy's last error, kept"
assert_eq "$(status busy message)" "" "busy's message once Running"
assert_contains "$(mlp describe deployment busy)" "Last error:  exit status 1: $LISTEN_ERR" "describe busy once Running"
[ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "http://$BUSY/v2/models/busy/infer" --data-binary @"$T_DIR/one.json")" = 200 ] ||
  fail "busy does not answer on $BUSY"
deployment ghost "  model: {name: bc, version: 1}"
wait_for "ghost to be Running once applied again" 60 is_state ghost Running
assert_eq "$(status ghost restarts)" "0" "ghost's restarts after it was applied again"
assert_contains "$(mlp describe deployment ghost -o json | jq -r '[.events[].type] | join(" ")')" "Updated" "ghost's events"
ok "the port freed: busy Running by itself (restarts and last error kept); ghost applied again: Updated, Running, restarts 0"

# --- the server stops: Stopped; delete: the records go ---
stop_server "$SERVER_PID" || fail "the server's exit status"
for n in busy ghost good; do
  assert_eq "$(status $n state) $(status $n message)" "Stopped the server stops" "$n after the server stopped"
done
assert_contains "$(mlp describe deployment good | sed -n '/^Events:/,$p')" "Stopped " "good's events after the server stopped"
mlp delete deployment ghost >/dev/null || fail "delete ghost"
deployment ghost "  model: {name: bc, version: 1}"
assert_eq "$(mlp describe deployment ghost -o json | jq -c '[.events, .status.restarts, .status.lastError]')" '[[],0,null]' \
  "a deleted Deployment's events and state go with it"
ok "the server stopped: every deployment Stopped (the server stops); delete forgets the state and events"

finish
