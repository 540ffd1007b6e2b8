#!/bin/bash
# mlplane serve deployment/NAME scales its replicas, over real HTTP, with
# versions 1 and 2 of model bc registered by a pipeline with `register:`:
#   - autoscale on concurrency (min 1, max 3, target 2 in flight per replica):
#     under 8 concurrent clients the stable pool goes to 3 replicas, desired and
#     ready; every request is answered 200; once the load stops it goes back to
#     1 replica within the 2 s scale-down window; the scale events are logged
#     and rollout status counts the requests;
#   - autoscale on requests per second (target 5): a steady load scales it up;
#   - scale to and from zero (min 0, scaleToZeroAfterSeconds 2): no replica at
#     start, the first request is held until one is ready and answered with the
#     version's own prediction, back to no replica after 2 s idle, and the next
#     request is answered again.
. "$(dirname "$0")/lib.sh"

register_bc 3 12
DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
# a request of 4 x 569 rows: tens of milliseconds in a replica, so that 8 clients keep requests in flight
tail -n +2 "$DATA" | cut -d, -f1-30 >"$T_DIR/rows.txt"
NBIG=$((4 * $(wc -l <"$T_DIR/rows.txt")))
printf '{"inputs":[{"name":"input-0","shape":[%d,30],"datatype":"FP32","data":[%s]}]}' "$NBIG" \
  "$(cat "$T_DIR/rows.txt" "$T_DIR/rows.txt" "$T_DIR/rows.txt" "$T_DIR/rows.txt" | paste -sd,)" >"$T_DIR/big.json"

# deployment NAME YAML-SPEC-LINES: applies a Deployment of model bc
deployment() {
  printf 'apiVersion: mlplane.dev/v1\nkind: Deployment\nmetadata: {name: %s}\nspec:\n%s\n' "$1" "$2" >"$T_DIR/$1.yaml"
  mlp apply -f "$T_DIR/$1.yaml" >/dev/null || fail "apply $1"
}
# serve_deployment NAME: starts mlplane serve deployment/NAME; sets DPID, DURL, DERR (no readiness wait:
# a deployment at zero replicas is not ready)
serve_deployment() {
  "$MLPLANE" serve "deployment/$1" --listen 127.0.0.1:0 >"$T_DIR/$1.out" 2>"$T_DIR/$1.err" &
  DPID=$!
  ALL_SERVER_PIDS="${ALL_SERVER_PIDS:-} $DPID"
  DERR="$T_DIR/$1.err"
  wait_for "mlplane serve deployment/$1's first line" 20 grep -q "listening on" "$T_DIR/$1.out"
  DURL=$(sed -n 's/^mlplane serve listening on \(http:[^ ]*\) .*/\1/p' "$T_DIR/$1.out")
  [ -n "$DURL" ] || fail "no URL in the first line of deployment $1: $(cat "$T_DIR/$1.out")"
}
# track FIELD...: the stable track's fields, space-separated
track() { curl -sf "$DURL/admin/rollout" | jq -r --arg f "$*" '.tracks[0] as $t | [($f | split(" "))[] | $t[.] | tostring] | join(" ")'; }
track_is() { local want=$1; shift; [ "$(track "$@")" = "$want" ]; }
workers_are() { [ "$(pgrep -P "$1" | wc -l)" = "$2" ]; }
# clients N NAME BODY: N clients, each sending BODY to deployment NAME at $DURL one request
# after the other until $T_DIR/stop.NAME exists (or this test is gone), one status code a
# line in $T_DIR/NAME.codes.I. Each client is one curl process sending 10 requests over one
# connection per round, so that the load it offers does not hang on how fast processes
# start on a loaded machine.
clients() {
  local i
  rm -f "$T_DIR/stop.$2"
  awk -v u="$DURL/v2/models/$2/infer" 'BEGIN { for (i = 0; i < 10; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' \
    >"$T_DIR/$2.cfg"
  CLIENT_PIDS=
  for i in $(seq 1 "$1"); do
    (
      n=0
      while [ ! -e "$T_DIR/stop.$2" ] && kill -0 $$ 2>/dev/null && [ $n -lt 500 ]; do
        curl -s -w '%{http_code}\n' -XPOST -H 'Content-Type: application/json' --data-binary @"$3" -K "$T_DIR/$2.cfg"
        n=$((n + 1))
      done >"$T_DIR/$2.codes.$i"
    ) &
    CLIENT_PIDS="$CLIENT_PIDS $!"
  done
}
# stop_clients NAME: stops them and waits; sets NCODES to the number of requests sent
stop_clients() {
  touch "$T_DIR/stop.$1"
  wait $CLIENT_PIDS
  NCODES=$(cat "$T_DIR/$1".codes.* | wc -l)
  local n200
  n200=$(cat "$T_DIR/$1".codes.* | grep -c '^200$' || true)
  [ "$n200" = "$NCODES" ] || fail "$1: $n200 of $NCODES requests answered 200 ($(cat "$T_DIR/$1".codes.* | sort | uniq -c | tr '\n' ' '))"
}

# --- autoscale on concurrency: 1 -> 3 under load, back to 1 after it ---
deployment auto "  model: {name: bc, version: 1}
  replicas: {min: 1, max: 3}
  autoscale: {metric: concurrency, target: 2, scaleDownStabilizationSeconds: 2}"
serve_deployment auto
assert_contains "$(head -1 "$T_DIR/auto.out")" "(deployment auto: model bc version 1, 1-3 replicas)" "first line"
wait_for "auto's first replica ready" 60 track_is "1 1" desired ready
AUTO_PID=$DPID
assert_eq "$(pgrep -P "$AUTO_PID" | wc -l)" "1" "worker processes at start"
clients 8 auto "$T_DIR/big.json"
wait_for "3 replicas desired and ready under load" 120 track_is "3 3" desired ready
wait_for "3 worker processes" 60 workers_are "$AUTO_PID" 3
# the load goes on until each of the 3 replicas has answered some of it
busy3() { [ "$(curl -sf "$DURL/admin/replicas" | jq '[.versions[0].replicas[] | select(.state == "ready" and .completed >= 3)] | length')" = 3 ]; }
wait_for "each of the 3 replicas to answer requests" 120 busy3
stop_clients auto
[ "$NCODES" -ge 16 ] || fail "only $NCODES requests were sent under load"
wait_for "back to 1 replica after the load" 120 track_is "1 1 0 0" desired ready starting draining
wait_for "the other workers to exit" 60 workers_are "$AUTO_PID" 1
grep -Eq "^mlplane serve: deployment auto: version 1: [12] -> 3 replicas \(requests in flight [0-9.]+, target 2 per replica\)$" \
  "$DERR" || fail "no scale-up line on stderr: $(cat "$DERR")"
grep -Eq "^mlplane serve: deployment auto: version 1: [23] -> 1 replica \(requests in flight [0-9.]+, target 2 per replica\)$" \
  "$DERR" || fail "no scale-down line on stderr: $(cat "$DERR")"
assert_eq "$(track requests)" "$NCODES" "requests counted by rollout status"
stop_server "$AUTO_PID" || fail "auto: exit status"
ok "concurrency target 2: 8 clients scale 1 -> 3 replicas, each answering ($NCODES requests, all 200), back to 1 after the load; logged"

# --- autoscale on requests per second ---
deployment rps "  model: {name: bc, version: 1}
  replicas: {min: 1, max: 2}
  autoscale: {metric: rps, target: 5, scaleDownStabilizationSeconds: 2}"
serve_deployment rps
RPS_PID=$DPID
wait_for "rps's first replica ready" 60 track_is "1 1" desired ready
clients 1 rps "$T_DIR/one.json"
wait_for "2 replicas desired and ready under a steady load" 120 track_is "2 2" desired ready
stop_clients rps
wait_for "back to 1 replica after the load" 120 track_is "1 1 0 0" desired ready starting draining
grep -Eq "^mlplane serve: deployment rps: version 1: 1 -> 2 replicas \(requests per second [0-9.]+, target 5 per replica\)$" \
  "$DERR" || fail "no scale-up line on stderr: $(cat "$DERR")"
stop_server "$RPS_PID" || fail "rps: exit status"
ok "requests-per-second target 5: a steady load ($NCODES requests, all 200) scales 1 -> 2 replicas, back to 1 after it"

# --- scale to and from zero ---
deployment zero "  model: {name: bc, version: 2}
  replicas: {min: 0, max: 1}
  scaleToZeroAfterSeconds: 2"
serve_deployment zero
ZERO_PID=$DPID
assert_contains "$(head -1 "$T_DIR/zero.out")" "(deployment zero: model bc version 2, 0-1 replicas)" "first line"
sleep 1 # no replica may start by itself: give one the time to (not an assertion on timing)
assert_eq "$(track desired ready starting)" "0 0 0" "replicas at start"
assert_eq "$(pgrep -P "$ZERO_PID" | wc -l)" "0" "worker processes at start"
# infer N: one request, its status, version and prediction
infer() {
  curl -s -D "$T_DIR/zero.h$1" -o "$T_DIR/zero.r$1" -w '%{http_code}' -XPOST "$DURL/v2/models/zero/infer" \
    --data-binary @"$T_DIR/one.json" >"$T_DIR/zero.code$1"
  assert_eq "$(cat "$T_DIR/zero.code$1")" "200" "request $1's status"
  assert_contains "$(tr -d '\r' <"$T_DIR/zero.h$1")" "X-Model-Version: 2" "request $1's version"
  assert_eq "$(jq -c '.outputs[0].data' "$T_DIR/zero.r$1")" "[$P2]" "request $1's prediction"
}
infer 1
grep -q "^mlplane serve: deployment zero: version 2: 0 -> 1 replica " "$DERR" || fail "no 0 -> 1 line: $(cat "$DERR")"
wait_for "zero replicas after 2 s idle" 120 track_is "0 0 0 0" desired ready starting draining
wait_for "no worker process after 2 s idle" 60 workers_are "$ZERO_PID" 0
grep -q "^mlplane serve: deployment zero: version 2: 1 -> 0 replicas " "$DERR" || fail "no 1 -> 0 line: $(cat "$DERR")"
infer 2
assert_eq "$(track requests)" "2" "requests counted"
stop_server "$ZERO_PID" || fail "zero: exit status"
ok "min 0: no replica at start; the first request is held and answered by version 2 ($P2); 0 replicas after 2 s idle; the next request answered again"
finish
