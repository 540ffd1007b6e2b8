#!/bin/bash
# mlplane server: probes, error shapes (404/405/413/400), /api/v1 over curl, the CLI
# with --server and MLPLANE_SERVER, hostile input, and a graceful SIGTERM.
. "$(dirname "$0")/lib.sh"

# http METHOD PATH [curl args...]: prints the status code; the body lands in $T_DIR/body
http() {
  local m=$1 p=$2; shift 2
  curl -s -o "$T_DIR/body" -w '%{http_code}' -X "$m" "$SERVER_URL$p" "$@"
}
body() { cat "$T_DIR/body"; }
# api_state RUN: the run's state as the server shows it
api_state() { curl -sf "$SERVER_URL/api/v1/runs/$1" | jq -r .state; }
api_state_is() { [ "$(api_state "$1")" = "$2" ]; }
# submit FILE [PARAMS-JSON]: POSTs a spec; prints the status, body in $T_DIR/body
submit() {
  jq -n --rawfile s "$1" --arg n "$(basename "$1")" --argjson p "${2:-{\}}" '{spec: $s, spec_name: $n, params: $p}' \
    >"$T_DIR/req.json"
  http POST /api/v1/runs -H 'Content-Type: application/json' --data-binary @"$T_DIR/req.json"
}

cat >"$T_DIR/hello.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: hello}
spec:
  params: {who: world}
  steps:
    - {name: a, script: 'echo "hello {{params.who}}"'}
    - {name: b, dependsOn: [a], command: [echo, done-b]}
YAML
cat >"$T_DIR/slow.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: slow}
spec:
  steps:
    - {name: sleeper, command: ["$NAP", "30"]}
YAML
cat >"$T_DIR/failing.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: failing}
spec:
  steps:
    - {name: boom, script: 'echo about to fail; exit 3'}
YAML

start_server
MAIN_PID=$SERVER_PID
MAIN_URL=$SERVER_URL
# (with MLPLANE_TEST_AUTH the token comes first, and the line says authentication is on)
line=1 suffix=""
[ -z "${MLPLANE_TEST_AUTH:-}" ] || line=2 suffix=", authentication on"
sed -n "${line}p" "$SERVER_OUT" | grep -Eq "^mlplane server listening on http://127\.0\.0\.1:[0-9]+ \(home $MLPLANE_HOME\)$suffix$" ||
  fail "first line: $(sed -n "${line}p" "$SERVER_OUT")"
case "$SERVER_URL" in *:0) fail "port 0 printed instead of the real port";; esac
ok "starts on a free port and prints it"

assert_eq "$(http GET /healthz)" "200" "/healthz status"
assert_eq "$(body | jq -r .status)" "ok" "/healthz body"
assert_eq "$(http GET /readyz)" "200" "/readyz status"
ok "/healthz and /readyz"

for p in /api/2.0/mlflow/no-such-thing /ajax-api/2.0/mlflow/no-such-thing /nowhere /api/v1/runs/x/nothing; do
  assert_eq "$(http GET "$p")" "404" "404 for $p"
  assert_eq "$(body | jq -r .error_code)" "ENDPOINT_NOT_FOUND" "error_code for $p"
  body | jq -e '.message | length > 0' >/dev/null || fail "message for $p"
done
ok "unknown routes: 404 ENDPOINT_NOT_FOUND in MLflow's error shape"

assert_eq "$(http DELETE /api/v1/runs)" "405" "DELETE /api/v1/runs"
assert_eq "$(body | jq -r .error_code)" "ENDPOINT_NOT_FOUND" "405 error shape"
assert_eq "$(http GET /api/v1/runs/x/cancel)" "405" "GET on cancel"
assert_eq "$(http POST /healthz -d x)" "405" "POST /healthz"
allow=$(curl -s -X PUT -D - -o /dev/null "$SERVER_URL/api/v1/runs/x" | tr -d '\r' | grep -i '^Allow:')
assert_eq "$allow" "Allow: GET, DELETE" "Allow of /api/v1/runs/{id}: every method of its routes, once"
assert_eq "$(http PATCH /api/v1/objects/Node/n1)" "405" "PATCH on an object"
assert_contains "$(body | jq -r .message)" "(allowed: DELETE)" "405 names what is allowed"
assert_eq "$(http DELETE /api/v1/objects/Node)" "404" "a kind without a name"
assert_eq "$(http GET "/api/v1/runs/$(printf 'x%.0s' $(seq 300))")" "404" "an id longer than a segment may be"
ok "known path, wrong method: 405 with Allow, built once from the route table"

assert_eq "$(http POST /api/v1/runs -H 'Content-Type: application/json' -d '{"spec": ')" "400" "malformed body"
assert_contains "$(body | jq -r .message)" "malformed JSON at line" "malformed body message"
assert_eq "$(body | jq -r .error_code)" "INVALID_PARAMETER_VALUE" "malformed body code"
assert_eq "$(http POST /api/v1/runs -d '{"spec": 42}')" "400" "spec of the wrong type"
ok "malformed request bodies: 400"

# --- the body limit, on a second server ---
start_server --max-body 1024
SMALL_PID=$SERVER_PID
head -c 4000 /dev/zero | tr '\0' a >"$T_DIR/big"
assert_eq "$(http POST /api/v1/runs --data-binary @"$T_DIR/big")" "413" "oversized body"
assert_eq "$(body | jq -r .error_code)" "RESOURCE_LIMIT_EXCEEDED" "413 error code"
assert_eq "$(http POST /api/v1/runs -H 'Transfer-Encoding: chunked' --data-binary @<(head -c 1500 "$T_DIR/big"))" "413" \
  "oversized chunked body"
assert_eq "$(http POST /api/v1/runs -d '{bad')" "400" "small body still served"
assert_eq "$(http GET /healthz)" "200" "healthy after 413s"
stop_server "$SMALL_PID" || fail "the --max-body server did not exit 0"
SERVER_URL=$MAIN_URL
ok "--max-body: 413 RESOURCE_LIMIT_EXCEEDED"

# --- /api/v1 over curl ---
assert_eq "$(submit "$T_DIR/hello.yaml" '{"who": "there"}')" "200" "submit"
run=$(body | jq -r .run_id)
case "$run" in hello-?????) ;; *) fail "submit returns the run id: $(body)";; esac
wait_for "run $run to succeed" 30 api_state_is "$run" Succeeded
curl -sf "$SERVER_URL/api/v1/runs" | jq -e --arg id "$run" '.[] | select(.id == $id) | .steps_done == 2' >/dev/null ||
  fail "GET /api/v1/runs lists the run"
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs/$run" | jq -r '.params.who')" "there" "params reached the run"
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs/$run" | jq -r '.events[-1].type')" "RunSucceeded" "describe has events"
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs/$run/steps" | jq -r '[.[].name] | join(",")')" "a,b" "steps"
logs=$(curl -sf "$SERVER_URL/api/v1/runs/$run/logs?step=a&offset=0")
assert_eq "$(jq -r .data <<<"$logs")" "hello there" "logs data"
assert_eq "$(jq -r .done <<<"$logs")" "true" "logs done"
off=$(jq -r .offset <<<"$logs")
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs/$run/logs?step=a&offset=$off" | jq -r .data)" "" "logs from the offset"
assert_eq "$(http GET "/api/v1/runs/$run/logs?step=nosuch")" "400" "logs of an unknown step"
assert_eq "$(http GET /api/v1/runs/nosuch-run)" "404" "unknown run"
assert_eq "$(body | jq -r .error_code)" "RESOURCE_DOES_NOT_EXIST" "unknown run code"
[ "$(mlp get runs -o json | jq -r --arg id "$run" '.[] | select(.id==$id) | .state')" = Succeeded ] ||
  fail "the run is in the home's store"
ok "/api/v1: submit, list, describe, steps, logs"

assert_eq "$(submit "$T_DIR/slow.yaml")" "200" "submit slow"
slow=$(body | jq -r .run_id)
wait_for "the sleeper to start" 20 nap_running
assert_eq "$(http POST "/api/v1/runs/$slow/cancel")" "200" "cancel"
assert_eq "$(body | jq -r .state)" "Cancelled" "cancel answer"
assert_eq "$(api_state "$slow")" "Cancelled" "cancelled run"
wait_for "the sleeper to stop" 10 bash -c "! pgrep -f '$T_DIR/bin/[n]ap'"
assert_eq "$(http POST "/api/v1/runs/$slow/cancel")" "409" "cancel of an ended run"
ok "/api/v1: cancel"

nruns=$(curl -sf "$SERVER_URL/api/v1/runs" | jq length)
nsub=$(ls "$MLPLANE_HOME/submitted" | wc -l)
assert_eq "$(submit "$MLPLANE_SRC/tests/specs/many_errors.yaml")" "400" "invalid spec"
assert_eq "$(body | jq -r .error_code)" "INVALID_PARAMETER_VALUE" "invalid spec code"
body | jq -e '.diagnostics | length >= 5' >/dev/null || fail "every diagnostic: $(body)"
assert_contains "$(body | jq -r .message)" 'many_errors.yaml:9:7: unknown field "dependOn"' "diagnostics in the message"
jq -n '{spec: "apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec: {steps: [{name: a, command: [\"true\"]}]}\n", params: {nosuch: 1}}' |
  curl -s -o "$T_DIR/body" -w '%{http_code}' -X POST "$SERVER_URL/api/v1/runs" --data-binary @- >"$T_DIR/code"
assert_eq "$(cat "$T_DIR/code")" "400" "unknown param"
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs" | jq length)" "$nruns" "nothing stored for invalid input"
assert_eq "$(ls "$MLPLANE_HOME/submitted" | wc -l)" "$nsub" "no spec file kept for invalid input"
ok "invalid spec or params: 400 with every diagnostic, nothing stored"

# --- the CLI against the server ---
export MLPLANE_HOME="$T_DIR/no-home-here" # the CLI must not touch a home in remote mode
out=$(mlp --server "$SERVER_URL" run "$T_DIR/hello.yaml" -p who=cli) || fail "run via --server failed"
crun=$(head -1 <<<"$out")
case "$crun" in hello-?????) ;; *) fail "run via --server prints the run id first: $out";; esac
assert_contains "$out" "a Running: attempt 1" "event lines"
assert_contains "$out" "run Succeeded" "run event line"
assert_contains "$out" "run $crun Succeeded in" "closing line"
out=$(MLPLANE_SERVER="$SERVER_URL" mlp get runs -o json)
assert_eq "$(jq -r --arg id "$crun" '.[] | select(.id==$id) | .params.who' <<<"$out")" "cli" "get runs -o json via MLPLANE_SERVER"
mlp get runs --server "$SERVER_URL" | grep -q "^$crun .*Succeeded *2/2" || fail "get runs table via --server after the command"
assert_eq "$(MLPLANE_SERVER="$SERVER_URL" mlp get steps "$crun" -o json | jq -r '.[1].name')" "b" "get steps"
out=$(MLPLANE_SERVER="$SERVER_URL" mlp logs "$crun")
assert_contains "$out" "==> a <==" "logs header"
assert_contains "$out" "hello cli" "logs of a"
assert_contains "$out" "done-b" "logs of b"
assert_eq "$(MLPLANE_SERVER="$SERVER_URL" mlp logs "$crun" b)" "done-b" "logs of one step"
out=$(MLPLANE_SERVER="$SERVER_URL" mlp describe run "$crun")
assert_contains "$out" "State:      Succeeded" "describe"
assert_contains "$out" "RunSucceeded" "describe events"
assert_eq "$(MLPLANE_SERVER="$SERVER_URL" mlp describe run "$crun" -o json | jq -r .id)" "$crun" "describe -o json"
set +e
err=$(MLPLANE_SERVER="$SERVER_URL" mlp cancel "$crun" 2>&1); rc=$?
set -e
assert_eq "$rc" "1" "cancel of an ended run"
assert_contains "$err" "already ended" "cancel message"
[ ! -e "$MLPLANE_HOME" ] || fail "remote mode created a local home"
ok "CLI with --server and MLPLANE_SERVER: run, get, logs, describe"

drun=$(MLPLANE_SERVER="$SERVER_URL" mlp run --detach "$T_DIR/slow.yaml")
case "$drun" in slow-?????) ;; *) fail "run --detach via server: $drun";; esac
wait_for "the detached sleeper" 20 nap_running
(MLPLANE_SERVER="$SERVER_URL" timeout 30 "$MLPLANE" logs -f "$drun" >"$T_DIR/follow.out"; echo $? >"$T_DIR/follow.rc") &
out=$(MLPLANE_SERVER="$SERVER_URL" mlp cancel "$drun") || fail "cancel via server"
assert_eq "$out" "run $drun Cancelled" "cancel output"
wait_for "logs -f to return" 15 test -s "$T_DIR/follow.rc"
assert_eq "$(cat "$T_DIR/follow.rc")" "0" "logs -f ends with the run"
ok "CLI: run --detach, logs -f, cancel through the server"

set +e
out=$(MLPLANE_SERVER="$SERVER_URL" mlp run "$T_DIR/failing.yaml" 2>"$T_DIR/err"); rc=$?
set -e
assert_eq "$rc" "1" "failing run exit status"
assert_contains "$(cat "$T_DIR/err")" "see its log: mlplane logs" "failure hint"
assert_contains "$out" "boom Failed" "failure event line"
set +e
MLPLANE_SERVER="$SERVER_URL" mlp run "$MLPLANE_SRC/tests/specs/many_errors.yaml" >/dev/null 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "invalid spec via the CLI"
assert_contains "$(cat "$T_DIR/err")" 'many_errors.yaml:9:7: unknown field "dependOn"' "diagnostics printed"
assert_contains "$(cat "$T_DIR/err")" "is not valid; nothing was run" "invalid spec closing line"
ok "CLI: failing run exits 1, invalid spec exits 2 with its diagnostics"

set +e
err=$(mlp --server http://127.0.0.1:9 get runs 2>&1); rc=$?
set -e
assert_eq "$rc" "1" "unreachable exit"
assert_contains "$err" "mlplane: cannot reach the server at http://127.0.0.1:9: " "unreachable message"
assert_contains "$err" 'is `mlplane server` running?' "unreachable hint"
assert_eq "$(wc -l <<<"$err")" "1" "one line"
ok "unreachable server: one sentence, exit 1"
export MLPLANE_HOME="$T_DIR/home"

# --- hostile input: the server stays up ---
port=${SERVER_URL##*:}
raw() { # raw BYTES: sends them on a fresh connection, prints the status line
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  local req=$1
  [ -z "${MLPLANE_TOKEN:-}" ] || req=${req/Host: x\\r\\n/Host: x\\r\\nAuthorization: Bearer $MLPLANE_TOKEN\\r\\n}
  printf '%b' "$req" >&3
  timeout 5 head -c 200 <&3 | head -1 | tr -d '\r' || true
  exec 3<&- 3>&-
}
assert_contains "$(raw 'GARBAGE\r\n\r\n')" "" "garbage"
assert_contains "$(raw 'GET /api/v1/runs/%ff%fe?step=%01 HTTP/1.1\r\nHost: x\r\n\r\n')" "404" "bad bytes in the path"
assert_contains "$(raw 'GET /api/v1/runs/%ff%fe?step=%00 HTTP/1.1\r\nHost: x\r\n\r\n')" "400" "an encoded NUL"
# a header over the connection's memory: 431, or a reset when the server closes before reading it all
case "$(raw "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: $(head -c 300000 /dev/zero | tr '\0' a)\r\n\r\n" 2>/dev/null)" in
  "" | *431*) ;;
  *) fail "huge header not refused";;
esac
assert_contains "$(raw 'POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n\xff\xfe\x00\x01{')" "400" "binary body"
# an encoded NUL would cut a decoded path short (a%00b -> a): refused, nothing written
assert_eq "$(http PUT '/api/2.0/mlflow-artifacts/artifacts/a%00b.txt' --data-binary hi)" "400" "%00 in a path"
assert_contains "$(body)" "NUL" "%00 message"
[ ! -e "$MLPLANE_HOME/artifacts/a" ] || fail "%00 path was written as a truncated name"
assert_eq "$(http GET '/api/2.0/mlflow/experiments/get-by-name?experiment_name=x%00y')" "400" "%00 in a query"
assert_eq "$(http GET /healthz)" "200" "alive after hostile input"
ok "malformed requests do not hurt the server"

# --- SIGTERM while a slow upload is in flight ---
python3 -c "import json; print(json.dumps({'spec': '#' + 'x' * 6000 + '\n'}))" >"$T_DIR/slow.json"
curl -s -o "$T_DIR/slow.body" -w '%{http_code}' --limit-rate 2k -X POST "$SERVER_URL/api/v1/runs" \
  -H 'Content-Type: application/json' --data-binary @"$T_DIR/slow.json" >"$T_DIR/slow.code" &
CURL_PID=$!
sleep 1
rc=0
stop_server "$MAIN_PID" || rc=$?
assert_eq "$rc" "0" "server exit status after SIGTERM"
wait "$CURL_PID" || fail "the in-flight request was cut off"
assert_eq "$(cat "$T_DIR/slow.code")" "400" "the in-flight request got its answer"
curl -s "$SERVER_URL/healthz" >/dev/null && fail "still accepting after SIGTERM"
assert_eq "$(sqlite3 "$MLPLANE_HOME/mlplane.db" 'PRAGMA integrity_check')" "ok" "store intact"
ok "SIGTERM: stops accepting, finishes the request in flight, exits 0, store intact"
finish
