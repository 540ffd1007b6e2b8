#!/bin/bash
# mlplane serve --replicas: worker processes behind a router, over real HTTP,
# with a model trained by `mlplane xgb train`. Predictions through the router
# equal `mlplane xgb predict`'s for every test row; metadata and errors are the
# replica's own; requests sent while replicas start are held, never sent to a
# replica that is not ready; SIGKILL of one replica, then of both at once,
# under load: zero failed requests, each restarted and ready again; scale up
# and down under load (POST /admin/replicas?n=K): zero failures; scaled to
# zero, requests wait and are answered once a replica is ready, or get 503
# after --ready-timeout; /metrics is Prometheus text; SIGTERM drains the
# request in flight and leaves no worker and no socket; SIGKILL of the router
# leaves no worker behind; usage errors.
. "$(dirname "$0")/lib.sh"

DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
mlp data split "$DATA" --test-fraction 0.2 --seed 42 --train "$T_DIR/train.csv" --test "$T_DIR/test.csv" >/dev/null
mlp xgb train --train "$T_DIR/train.csv" --model "$T_DIR/bc.json" --rounds 60 --max-depth 4 --quiet
mlp xgb predict --model "$T_DIR/bc.json" --data "$T_DIR/test.csv" --out "$T_DIR/want.txt"
tail -n +2 "$T_DIR/test.csv" | cut -d, -f1-30 >"$T_DIR/rows.txt"
NROWS=$(wc -l <"$T_DIR/rows.txt")
DIGEST=$(sha256sum "$T_DIR/bc.json" | cut -c1-12)
printf '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":[%s]}]}' "$(head -1 "$T_DIR/rows.txt")" \
  >"$T_DIR/one.json"
data_of() { grep -o '"data":\[[^]]*\]' | sed 's/^"data":\[//; s/\]$//' | tr , '\n'; }

# --- start: requests sent while the replicas start are held, not sent to them ---
"$MLPLANE" serve "$T_DIR/bc.json" --name bc --listen 127.0.0.1:0 --replicas 2 --ready-timeout 20 \
  >"$T_DIR/router.out" 2>"$T_DIR/router.err" &
RPID=$!
ALL_SERVER_PIDS="$RPID"
wait_for "the router's first line" 20 grep -q "listening on" "$T_DIR/router.out"
R=$(sed -n 's/^mlplane serve listening on \(http:[^ ]*\) .*/\1/p' "$T_DIR/router.out")
U="$R/v2/models/bc"
# load N OUT: N single-row requests from 8 parallel connections (curl --parallel), one status a line in OUT
load() {
  awk -v u="$U/infer" -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u }' \
    >"$2.cfg"
  curl -s --parallel --parallel-immediate --parallel-max 8 -XPOST -H 'Content-Type: application/json' --data-binary @"$T_DIR/one.json" \
    -w '%{http_code}\n' -K "$2.cfg" >"$2" 2>/dev/null || true
}
# all_ok FILE N WHAT: N lines, each 200
all_ok() {
  local n200 total
  n200=$(grep -c '^200$' "$1" || true); total=$(wc -l <"$1")
  [ "$total" = "$2" ] && [ "$n200" = "$2" ] || fail "$3: $n200 of $2 requests answered 200 ($(sort "$1" | uniq -c | tr '\n' ' '))"
}
stats() { curl -sf "$R/admin/replicas"; }
nready() { stats | jq '.versions[0].ready'; }
pid_of() { stats | jq -r --argjson i "$1" '.versions[0].replicas[] | select(.replica == $i) | .pid'; }
nready_is() { [ "$(nready)" = "$1" ]; }
nslots_is() { [ "$(stats | jq '.versions[0].replicas | length')" = "$1" ]; }
children_are() { [ "$(pgrep -P "$1" | wc -l)" = "$2" ]; }
metric() { curl -sf "$R/metrics" | awk -v k="$1" 'index($0, k " ") == 1 { print $2 }'; }
load 50 "$T_DIR/start.codes"
all_ok "$T_DIR/start.codes" 50 "requests sent at start"
assert_contains "$(head -1 "$T_DIR/router.out")" "(model bc version $DIGEST, $T_DIR/bc.json, 2 replicas)" "first line"
wait_for "both replicas ready" 20 nready_is 2
assert_eq "$(metric 'mlplane_serve_upstream_failures_total{version="'$DIGEST'",reason="refused"}')" "0" "refused at start"
assert_eq "$(metric 'mlplane_serve_upstream_failures_total{version="'$DIGEST'",reason="died"}')" "0" "died at start"
assert_eq "$(curl -sf "$R/v2/health/ready")" '{"ready":true}' "router ready"
assert_eq "$(curl -sf "$R/v2/health/live")" '{"live":true}' "router live"
ok "50 requests sent as 2 replicas start: all answered, none sent to a replica before it was ready"

# --- every test row through the router equals mlplane xgb predict ---
: >"$T_DIR/got.txt"
while IFS= read -r row; do
  curl -sf -XPOST "$U/infer" -d '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":['"$row"']}]}' |
    data_of >>"$T_DIR/got.txt" || fail "a row's request failed"
done <"$T_DIR/rows.txt"
diff -q "$T_DIR/want.txt" "$T_DIR/got.txt" >/dev/null || fail "predictions through the router differ: $(diff "$T_DIR/want.txt" "$T_DIR/got.txt" | head -5)"
curl -sf -D "$T_DIR/h" -o /dev/null -XPOST "$U/infer" --data-binary @"$T_DIR/one.json"
assert_contains "$(tr -d '\r' <"$T_DIR/h")" "X-Model-Version: $DIGEST" "X-Model-Version through the router"
ok "all $NROWS test rows through the router equal mlplane xgb predict; X-Model-Version $DIGEST"

# --- metadata and errors are the replica's own ---
# the replica's socket, found as a user would: in its command line (`ps`); the
# router puts it under the home, or under $TMPDIR when that path would be too
# long for a unix socket address
listen_of() { tr '\0' '\n' < "/proc/$1/cmdline" | sed -n 's/^--listen=unix://p'; }
SOCK0=$(listen_of "$(pid_of 0)")
[ -n "$SOCK0" ] || fail "no --listen=unix:PATH in replica 0's command line: $(tr '\0' ' ' < "/proc/$(pid_of 0)/cmdline")"
[ -S "$SOCK0" ] || fail "no replica socket at $SOCK0 (replica 0's --listen)"
SOCK_DIR=$(dirname "$SOCK0")
direct() { curl -s --unix-socket "$SOCK0" -w ' %{http_code}' "$@"; }
routed() { curl -s -w ' %{http_code}' "$@"; }
for p in /v2 /v2/models/bc "/v2/models/bc/versions/$DIGEST" /v2/models/bc/ready /v2/models/nope /v2/nowhere; do
  assert_eq "$(routed "$R$p")" "$(direct "http://x$p")" "GET $p"
done
assert_eq "$(routed -XPOST "$U/infer" -d '{"inputs": [')" "$(direct -XPOST http://x/v2/models/bc/infer -d '{"inputs": [')" "bad JSON"
assert_eq "$(routed -XGET "$U/infer")" "$(direct -XGET http://x/v2/models/bc/infer)" "GET on infer"
assert_contains "$(curl -s -D - -o /dev/null "$U/infer" | tr -d '\r')" "Allow: POST" "Allow header"
ok "GET /v2, model metadata and ready, 404, 400 and 405 through the router equal the replica's answers"

# --- SIGKILL of one replica under load: zero failures; it is restarted ---
P0=$(pid_of 0)
load 6000 "$T_DIR/kill1.codes" &
LOAD=$!
wait_for "the load to start" 20 test -s "$T_DIR/kill1.codes"
sleep 0.3
kill -KILL "$P0"
wait "$LOAD"
all_ok "$T_DIR/kill1.codes" 6000 "load while replica 0 was killed"
wait_for "replica 0 back and ready" 20 sh -c "[ \"\$(curl -sf '$R/admin/replicas' | jq -r '.versions[0].replicas[0] | .state + \" \" + (.restarts|tostring)')\" = 'ready 1' ]"
[ "$(pid_of 0)" != "$P0" ] || fail "replica 0 has its old pid"
assert_contains "$(cat "$T_DIR/router.err")" "replica 0 (pid $P0) was killed by signal 9 (Killed)" "exit logged"
assert_contains "$(cat "$T_DIR/router.err")" "restarting in 100 ms" "restart logged"
ok "SIGKILL of replica 0 during 6000 requests: 0 failed; restarted (pid $P0 -> $(pid_of 0)) and ready"

# --- SIGKILL of both at once under load: requests wait for the restart ---
P0=$(pid_of 0); P1=$(pid_of 1)
load 6000 "$T_DIR/kill2.codes" &
LOAD=$!
wait_for "the load to start" 20 test -s "$T_DIR/kill2.codes"
sleep 0.3
kill -KILL "$P0" "$P1"
wait "$LOAD"
all_ok "$T_DIR/kill2.codes" 6000 "load while both replicas were killed"
wait_for "both replicas back" 20 nready_is 2
[ "$(pid_of 0)" != "$P0" ] && [ "$(pid_of 1)" != "$P1" ] || fail "a replica kept its old pid"
ok "SIGKILL of both replicas at once during 6000 requests: 0 failed; both restarted and ready"

# --- scale up and down under load ---
REFUSED=$(metric 'mlplane_serve_upstream_failures_total{version="'$DIGEST'",reason="refused"}')
load 8000 "$T_DIR/scale.codes" &
LOAD=$!
wait_for "the load to start" 20 test -s "$T_DIR/scale.codes"
assert_eq "$(curl -sf -XPOST "$R/admin/replicas?n=3")" "{\"version\":\"$DIGEST\",\"replicas\":3}" "scale to 3"
wait_for "3 replicas ready" 20 nready_is 3
assert_eq "$(curl -sf -XPOST "$R/admin/replicas?n=1" | jq .replicas)" "1" "scale to 1"
wait_for "2 replicas removed" 20 nslots_is 1
wait "$LOAD"
all_ok "$T_DIR/scale.codes" 8000 "load while scaling 2 -> 3 -> 1"
assert_eq "$(metric 'mlplane_serve_upstream_failures_total{version="'$DIGEST'",reason="refused"}')" "$REFUSED" "refused while scaling"
assert_eq "$(pgrep -P "$RPID" | wc -l)" "1" "worker processes after scaling to 1"
assert_eq "$(find "$SOCK_DIR" -name '*.sock' | wc -l)" "1" "sockets after scaling to 1"
assert_contains "$(cat "$T_DIR/router.err")" "draining: 1 replica wanted" "drain logged"
ok "scaled 2 -> 3 -> 1 during 8000 requests: 0 failed, new replicas got traffic only once ready, removed ones drained"

# --- scaled to zero: requests are held, answered once a replica is ready ---
curl -sf -XPOST "$R/admin/replicas?n=0" >/dev/null
wait_for "no replica left" 20 children_are "$RPID" 0
assert_eq "$(curl -s -w ' %{http_code}' "$R/v2/health/ready")" '{"ready":false} 400' "ready at zero"
load 20 "$T_DIR/zero.codes" &
LOAD=$!
sleep 1
[ ! -s "$T_DIR/zero.codes" ] || fail "requests were answered with no replica: $(sort "$T_DIR/zero.codes" | uniq -c)"
assert_eq "$(metric 'mlplane_serve_waiting{version="'$DIGEST'"}')" "8" "requests waiting (8 connections)"
curl -sf -XPOST "$R/admin/replicas?n=2" >/dev/null
wait "$LOAD"
all_ok "$T_DIR/zero.codes" 20 "requests held at zero replicas"
wait_for "both replicas ready again" 20 nready_is 2
ok "scaled to 0: requests wait (8 held), and are all answered once replicas are ready again"

# --- /metrics is Prometheus text ---
curl -sf -D "$T_DIR/mh" -o "$T_DIR/metrics.txt" "$R/metrics"
assert_contains "$(tr -d '\r' <"$T_DIR/mh")" "Content-Type: text/plain; version=0.0.4" "metrics content type"
bad=$(awk '/^#/ { if ($0 !~ /^# (HELP|TYPE) [a-z_]+ /) print; next }
           !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN)$/ { print }' \
  "$T_DIR/metrics.txt")
[ -z "$bad" ] || fail "lines that are not Prometheus text: $bad"
for m in mlplane_serve_requests_total mlplane_serve_request_duration_seconds mlplane_serve_replicas mlplane_serve_inflight; do
  grep -q "^# TYPE $m " "$T_DIR/metrics.txt" || fail "no # TYPE line for $m"
done
total=$(awk '/^mlplane_serve_requests_total/ { s += $2 } END { print s }' "$T_DIR/metrics.txt")
count=$(awk '/^mlplane_serve_request_duration_seconds_count/ { print $2 }' "$T_DIR/metrics.txt")
inf=$(awk -F'} ' '/_bucket.*le="\+Inf"/ { print $2 }' "$T_DIR/metrics.txt")
assert_eq "$count" "$total" "histogram count = requests_total"
assert_eq "$inf" "$total" "+Inf bucket = requests_total"
[ "$total" -ge 20000 ] || fail "requests_total $total, expected over 20000"
assert_contains "$(cat "$T_DIR/metrics.txt")" "mlplane_serve_replicas{version=\"$DIGEST\",state=\"ready\"} 2" "replicas gauge"
ok "/metrics: Prometheus text (every line a comment or name{labels} value), $total requests counted"

# --- --ready-timeout: scaled to zero, a request gets 503 after it ---
"$MLPLANE" serve "$T_DIR/bc.json" --name bc --listen 127.0.0.1:0 --replicas 2 --ready-timeout 1 >"$T_DIR/r2.out" 2>"$T_DIR/r2.err" &
R2PID=$!
ALL_SERVER_PIDS="$ALL_SERVER_PIDS $R2PID"
wait_for "the second router's first line" 20 grep -q "listening on" "$T_DIR/r2.out"
R2=$(sed -n 's/^mlplane serve listening on \(http:[^ ]*\) .*/\1/p' "$T_DIR/r2.out")
wait_for "the second router ready" 20 curl -sf "$R2/v2/health/ready"
curl -sf -XPOST "$R2/admin/replicas?n=0" >/dev/null
wait_for "the second router at zero" 20 children_are "$R2PID" 0
out=$(curl -s -w ' %{http_code} %{time_total}' -XPOST "$R2/v2/models/bc/infer" --data-binary @"$T_DIR/one.json")
assert_contains "$out" "no replica of model bc version $DIGEST became ready within 1000 ms (--ready-timeout)\"} 503" "503 after the ready timeout"
awk -v t="${out##* }" 'BEGIN { exit !(t >= 0.9) }' || fail "answered 503 before the ready timeout: $out"
# --- SIGKILL of a router: its workers notice and go ---
curl -sf -XPOST "$R2/admin/replicas?n=2" >/dev/null
r2_ready() { [ "$(curl -sf "$R2/admin/replicas" | jq '.versions[0].ready')" = 2 ]; }
wait_for "the second router's replicas" 20 r2_ready
W2=$(pgrep -P "$R2PID" | tr '\n' ' ')
kill -KILL "$R2PID"; wait "$R2PID" 2>/dev/null || true
gone() { for p in $W2; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
wait_for "the killed router's workers to exit" 15 gone
ok "--ready-timeout 1 at zero replicas: 503 after 1 s; SIGKILL of a router: its workers ($W2) exit by themselves"

# --- SIGTERM: the request in flight is answered, no worker and no socket is left ---
head -20 "$T_DIR/rows.txt" | paste -sd, | sed 's/^/{"inputs":[{"name":"input-0","shape":[20,30],"datatype":"FP32","data":[/; s/$/]}]}/' >"$T_DIR/slow.json"
curl -s -o "$T_DIR/slow.out" -w '%{http_code}' --limit-rate 2k -XPOST "$U/infer" --data-binary @"$T_DIR/slow.json" \
  >"$T_DIR/slow.code" &
CURL_PID=$!
W=$(pgrep -P "$RPID" | tr '\n' ' ')
sleep 1
rc=0
stop_server "$RPID" || rc=$?
assert_eq "$rc" "0" "router exit status after SIGTERM"
wait "$CURL_PID" || fail "the in-flight request was cut off"
assert_eq "$(cat "$T_DIR/slow.code")" "200" "the in-flight request's status"
assert_eq "$(data_of <"$T_DIR/slow.out")" "$(head -20 "$T_DIR/want.txt")" "the in-flight request's predictions"
for p in $W; do kill -0 "$p" 2>/dev/null && fail "worker $p still runs after the router stopped"; done
left=$({ find "$SOCK_DIR" -name '*.sock' 2>/dev/null || true; } | wc -l)
assert_eq "$left" "0" "socket files left"
[ ! -e "$SOCK_DIR" ] || fail "the router's socket folder $SOCK_DIR was left"
ok "SIGTERM: the slow request in flight is answered, exit 0, workers ($W) gone, no socket left"

# --- the command line ---
for args in "--replicas 0" "--replicas 65" "--replicas x" "--ready-timeout 0"; do
  rc=0; out=$(mlp serve "$T_DIR/bc.json" $args 2>&1) || rc=$?
  assert_eq "$rc" "2" "usage error for '$args' ($out)"
done
rc=0; out=$(mlp serve "$T_DIR/missing.json" --replicas 2 2>&1) || rc=$?
assert_eq "$rc" "1" "missing model with --replicas"
assert_contains "$out" "does not exist" "missing model message"
assert_contains "$(mlp serve --help)" "--replicas N" "--help"
ok "usage errors exit 2; a missing model with --replicas exits 1 at once"
finish
