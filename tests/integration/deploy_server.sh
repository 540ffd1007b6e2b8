#!/bin/bash
# mlplane server runs the applied Deployments, over real HTTP, with versions 1
# and 2 of model bc registered by a pipeline with `register:`:
#   - a Deployment applied before the server starts is served: get deployments
#     (table and JSON) gives its URL, which answers inference;
#   - SIGKILL of the deployment's process: the server logs that it exited
#     unasked and restarts it (a new pid, answering again); the killed one's
#     replicas go;
#   - applied again with another canary percent, under load: handed over to a
#     new process on the same address with no request refused, and rollout
#     status shows the new split, taken from the spec;
#   - rollout promote / rollback while it runs: the split changes at once (all
#     requests answered by the canary, then all by the stable version);
#   - delete deployment: its process and replicas stop, router.json goes;
#   - SIGTERM to the server: exit 0, no mlplane serve process of the home left;
#   - errors: an unknown deployment, a percent over 100, rollout of a deployment
#     without a canary, serve deployment/NAME of one not applied or naming a
#     version the registry lacks.
. "$(dirname "$0")/lib.sh"

register_bc 3 12

# deployment NAME YAML-SPEC-LINES: applies a Deployment of model bc
deployment() {
  printf 'apiVersion: mlplane.dev/v1\nkind: Deployment\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2" >"$T_DIR/$1.yaml"
  mlp apply -f "$T_DIR/$1.yaml" >/dev/null || fail "apply $1"
}
INFO="$MLPLANE_HOME/serving/cr/router.json"
info() { jq -r ".$1" "$INFO" 2>/dev/null; }
url_of() { mlp get deployments -o json | jq -r --arg n "$1" '.[] | select(.deployment == $n) | .url // empty'; }
# answers NAME: its URL (from get deployments) answers an inference request with 200
answers() {
  local u
  u=$(url_of "$1")
  [ -n "$u" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$u/v2/models/$1/infer" --data-binary @"$T_DIR/one.json")" = 200 ]
}
# versions_of N: the X-Model-Version of N requests to cr, counted ("N VERSION" lines)
versions_of() {
  local u i
  u=$(url_of cr)
  for i in $(seq 1 "$1"); do
    curl -sf -D - -o /dev/null -XPOST "$u/v2/models/cr/infer" --data-binary @"$T_DIR/one.json" | tr -d '\r' |
      sed -n 's/^X-Model-Version: //p'
  done | sort | uniq -c | awk '{ print $1 " " $2 }' | paste -sd, -
}
split_is() { [ "$(mlp rollout status cr -o json | jq -r '[.pid, .percentFrom, (.tracks[] | .percent)] | join(" ")')" = "$1" ]; }
procs_of() { pgrep -f "$1" | wc -l; }
no_procs() { ! pgrep -f "$1" >/dev/null; }

# --- applied, then the server starts: it serves the deployments ---
deployment cr "  model: {name: bc, version: 1}
  canary: {version: 2, percent: 10}"
deployment solo "  model: {name: bc, version: 1}"
start_server
SERVER_ERR="${SERVER_OUT%.out}.err"
wait_for "deployment cr to answer at its URL" 30 answers cr
wait_for "deployment solo to answer at its URL" 30 answers solo
PID1=$(info pid)
assert_eq "$(info url)" "$(url_of cr)" "router.json's URL"
assert_contains "$(pgrep -af "deployment/cr --home=$MLPLANE_HOME")" "$PID1 " "the deployment's process"
running() { [ "$(mlp get deployments -o json | jq -r --arg n "$1" '.[] | select(.deployment == $n) | .status.state')" = Running ]; }
wait_for "deployment cr to be Running" 30 running cr
wait_for "deployment solo to be Running" 30 running solo
table=$(mlp get deployments)
assert_eq "$(echo "$table" | awk '{ $5 = "AGE"; print }' | tr -s ' ' | sed 's/ $//')" "NAME READY STATUS RESTARTS AGE MODEL STABLE CANARY SHADOW URL MESSAGE
cr 2/2 Running 0 AGE bc 1 (90%) 2 (10%) - $(url_of cr)
solo 1/1 Running 0 AGE bc 1 (100%) - - $(url_of solo)" "get deployments"
assert_contains "$(cat "$SERVER_ERR")" "mlplane server: deployment cr: started (pid $PID1, log $MLPLANE_HOME/serving/cr/server.log)" "start logged"
assert_contains "$(head -1 "$MLPLANE_HOME/serving/cr/server.log")" "(deployment cr: model bc version 1, canary version 2 at 10%, 1 replica)" "the deployment's first line in its log"
assert_eq "$(versions_of 20)" "18 1,2 2" "the 10% split over 20 requests"
ok "applied before the server starts: served at the URL of get deployments (table and JSON); 10% of the requests to version 2"

# --- SIGKILL of the deployment: restarted ---
U1=$(url_of cr)
kill -KILL "$PID1"
restarted() { local p; p=$(info pid) && [ -n "$p" ] && [ "$p" != "$PID1" ] && answers cr; }
wait_for "cr restarted" 30 restarted
PID2=$(info pid)
assert_eq "$(url_of cr)" "$U1" "the address after a restart (the server keeps the listening socket)"
assert_contains "$(cat "$SERVER_ERR")" "mlplane server: deployment cr: exited unasked (killed by signal 9); restarting in 100 ms" "exit logged"
assert_contains "$(cat "$SERVER_ERR")" "mlplane server: deployment cr: started (pid $PID2," "restart logged"
wait_for "the killed deployment's replicas to exit" 20 no_procs "$MLPLANE_HOME/serving/cr/$PID1/"
ok "SIGKILL of deployment cr (pid $PID1): logged as exited unasked, restarted (pid $PID2), answers again; its replicas exited"

# --- applied again with another split: handed over under load, nothing refused ---
U_BEFORE=$(url_of cr)
awk -v u="$U_BEFORE/v2/models/cr/infer" 'BEGIN { for (i = 0; i < 4000; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' \
  >"$T_DIR/handover.cfg"
curl -s --parallel --parallel-immediate --parallel-max 8 -XPOST -H 'Content-Type: application/json' \
  --data-binary @"$T_DIR/one.json" -w '%{http_code}\n' -K "$T_DIR/handover.cfg" >"$T_DIR/handover.codes" 2>/dev/null &
LOADPID=$!
sed -i 's/percent: 10/percent: 30/' "$T_DIR/cr.yaml"
mlp apply -f "$T_DIR/cr.yaml" >/dev/null || fail "apply cr again"
# (the live status, with the pid of the process router.json names: not the store's, which has no pid)
reapplied() { local p; p=$(info pid) && [ -n "$p" ] && [ "$p" != "$PID2" ] && split_is "$p spec 70 30"; }
wait_for "cr handed over to the 30% spec" 30 reapplied
PID3=$(info pid)
wait_for "the previous spec's process to stop" 30 grep -q "deployment cr: the previous spec's process stopped (exit status 0)" "$SERVER_ERR"
assert_contains "$(cat "$SERVER_ERR")" "mlplane server: deployment cr: applied again; the new spec starts beside pid $PID2" "re-apply logged"
assert_contains "$(cat "$SERVER_ERR")" "mlplane server: deployment cr: stopping (pid $PID2): the new spec's process is ready" "hand-over logged"
wait_for "one cr process" 20 test "$(procs_of "deployment/cr --home=$MLPLANE_HOME")" = 1
assert_eq "$(url_of cr)" "$U_BEFORE" "the address after the hand-over"
wait "$LOADPID" || true
assert_eq "$(grep -c '^200$' "$T_DIR/handover.codes" || true)" "4000" "requests answered 200 across the hand-over ($(sort "$T_DIR/handover.codes" | uniq -c | tr '\n' ' '))"
assert_eq "$(versions_of 10)" "7 1,3 2" "the 30% split over 10 requests"
ok "applied again with canary percent 30: handed over (pid $PID2 -> $PID3) on the same address, 4000 of 4000 requests answered under load; rollout status 70/30 from the spec"

# --- promote and rollback while it runs ---
out=$(mlp rollout promote cr) || fail "promote"
assert_eq "$out" "deployment cr: the canary (version 2) gets 100% of the requests (was 30%)" "promote's output"
split_is "$PID3 rollout 0 100" || fail "status after promote: $(mlp rollout status cr -o json)"
assert_eq "$(versions_of 20)" "20 2" "versions after promote"
out=$(mlp rollout rollback cr) || fail "rollback"
assert_eq "$out" "deployment cr: the canary (version 2) gets 0% of the requests (was 100%)" "rollback's output"
split_is "$PID3 rollout 100 0" || fail "status after rollback: $(mlp rollout status cr -o json)"
assert_eq "$(versions_of 20)" "20 1" "versions after rollback"
assert_contains "$(mlp rollout status cr)" "Split:       set by mlplane rollout" "status table"
ok "promote: all 20 requests answered by version 2; rollback: all 20 by version 1; the split is from rollout"

# --- through --server: get deployments, rollout, apply ---
S="$SERVER_URL"
assert_eq "$(mlp --server "$S" get deployments -o json | jq -c '[.[] | [.deployment, .url]]')" \
  "$(mlp get deployments -o json | jq -c '[.[] | [.deployment, .url]]')" "get deployments through the server"
out=$(mlp --server "$S" rollout promote cr --percent 40) || fail "promote through the server: $out"
assert_eq "$out" "deployment cr: the canary (version 2) gets 40% of the requests (was 0%)" "promote's output through the server"
assert_eq "$(mlp --server "$S" rollout status cr -o json | jq -c '[.percentFrom, .tracks[0].percent, .tracks[1].percent]')" \
  '["rollout",60,40]' "status through the server"
assert_eq "$(versions_of 10)" "6 1,4 2" "the 40% split over 10 requests"
assert_contains "$(mlp --server "$S" rollout status cr)" "Split:       set by mlplane rollout" "status table through the server"
rc=0; out=$(mlp --server "$S" rollout promote solo 2>&1) || rc=$?
assert_eq "$rc" "2" "promote of a deployment without a canary, through the server"
assert_contains "$out" 'has no canary to promote' "its message"
rc=0; out=$(mlp --server "$S" rollout status nope 2>&1) || rc=$?
assert_eq "$rc" "1" "status of an unknown deployment, through the server"
assert_contains "$out" 'no Deployment "nope" is applied' "its message"
printf 'apiVersion: mlplane.dev/v1\nkind: Deployment\nmetadata: {name: third}\nspec:\n  model: {name: bc, version: 2}\n  replicas: {min: 1, max: 0}\n' \
  >"$T_DIR/bad.yaml"
rc=0; out=$(mlp --server "$S" apply -f "$T_DIR/bad.yaml" 2>&1) || rc=$?
assert_eq "$rc" "2" "a bad file applied through the server"
assert_contains "$out" "$T_DIR/bad.yaml:6:" "the problem's FILE:LINE:COL through the server"
[ "$(mlp get deployments -o json | jq 'map(select(.deployment == "third")) | length')" = 0 ] || fail "a bad file changed the store"
sed 's/max: 0/max: 1/' "$T_DIR/bad.yaml" >"$T_DIR/third.yaml"
assert_eq "$(mlp --server "$S" apply -f "$T_DIR/third.yaml")" "Deployment/third applied" "apply through the server"
wait_for "deployment third to answer" 30 answers third
assert_eq "$(mlp --server "$S" delete deployment third)" "Deployment/third deleted" "delete through the server"
wait_for "deployment third to stop" 30 no_procs "deployment/third --home=$MLPLANE_HOME"
rc=0; out=$(mlp --server "$S" delete deployment third 2>&1) || rc=$?
assert_eq "$rc" "1" "deleting it again through the server"
assert_contains "$out" 'Deployment "third" is not applied' "its message"
ok "through --server: get deployments, rollout status and promote (40% split live), errors with their exit statuses, apply of a bad file (changes nothing) and of a new Deployment (served), delete (stopped)"

# --- delete: stopped ---
SOLO_PID=$(jq -r .pid "$MLPLANE_HOME/serving/solo/router.json")
out=$(mlp delete deployment cr) || fail "delete"
wait_for "cr's process and replicas to stop" 30 no_procs "$MLPLANE_HOME/serving/cr/|deployment/cr --home=$MLPLANE_HOME"
[ ! -e "$INFO" ] || fail "router.json left after delete: $(cat "$INFO")"
assert_contains "$(cat "$SERVER_ERR")" "mlplane server: deployment cr: stopping (pid $PID3): its Deployment was deleted" "delete logged"
assert_eq "$(mlp get deployments -o json | jq -r '[.[].deployment] | join(" ")')" "solo" "deployments after delete"
assert_eq "$(jq -r .pid "$MLPLANE_HOME/serving/solo/router.json")" "$SOLO_PID" "solo untouched"
answers solo || fail "solo stopped answering"
ok "delete deployment cr: its process and replicas stopped, router.json removed; solo still served"

# --- errors while the server runs ---
rc=0; out=$(mlp rollout promote missing 2>&1) || rc=$?
assert_eq "$rc" "1" "promote of a deployment not applied"
assert_contains "$out" 'mlplane: no Deployment "missing" is applied (apply one with: mlplane apply -f FILE)' "its message"
rc=0; out=$(mlp rollout promote solo --percent 101 2>&1) || rc=$?
assert_eq "$rc" "2" "--percent 101"
assert_contains "$out" '--percent expects a whole number from 0 to 100, got "101"' "its message"
rc=0; out=$(mlp rollout promote solo 2>&1) || rc=$?
assert_eq "$rc" "2" "promote of a deployment without a canary"
assert_contains "$out" 'Deployment "solo" has no canary to promote' "its message"
rc=0; out=$(mlp rollout rollback solo 2>&1) || rc=$?
assert_eq "$rc" "2" "rollback of a deployment without a canary"
assert_contains "$out" 'Deployment "solo" has no canary to rollback' "its message"
ok "rollout: an unknown deployment (1), --percent 101 (2), no canary to promote or roll back (2), each with its reason"

# --- SIGTERM: the server stops its deployments ---
rc=0
stop_server "$SERVER_PID" || rc=$?
assert_eq "$rc" "0" "the server's exit status"
left=$(pgrep -af "$MLPLANE_HOME" || true)
[ -z "$left" ] || fail "processes of the home left after the server stopped: $left"
[ ! -e "$MLPLANE_HOME/serving/solo/router.json" ] || fail "solo's router.json left"
assert_contains "$(cat "$SERVER_ERR")" "mlplane server: deployment solo: stopping (pid $SOLO_PID): the server stops" "stop logged"
ok "SIGTERM to the server: exit 0, deployment solo (pid $SOLO_PID) and its replicas stopped, nothing of the home left"

# --- serve deployment/NAME errors ---
rc=0; out=$(mlp serve deployment/nope --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "serve deployment/nope"
assert_contains "$out" 'no Deployment "nope" is applied' "its message"
deployment ghost "  model: {name: bc, version: 9}"
rc=0; out=$(mlp serve deployment/ghost --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "serve of a deployment naming version 9"
assert_contains "$out" 'Deployment "ghost" spec.model' "its message names the field"
assert_contains "$out" "version=9" "its message names the version"
deployment ghost2 "  model: {name: bc, version: 1}
  canary: {version: 7, percent: 10}"
rc=0; out=$(mlp serve deployment/ghost2 --listen 127.0.0.1:0 2>&1) || rc=$?
assert_eq "$rc" "1" "serve of a deployment whose canary names version 7"
assert_contains "$out" 'Deployment "ghost2" spec.canary' "its message names the field"
assert_contains "$out" "version=7" "its message names the version"
no_procs "$MLPLANE_HOME" || fail "a failed serve left a process: $(pgrep -af "$MLPLANE_HOME")"
ok "serve deployment/nope and deployments naming versions the registry lacks fail at once, naming them"
finish
