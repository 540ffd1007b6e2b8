#!/bin/bash
# mlplane serve end to end over real HTTP: a model trained by `mlplane xgb train` on
# the breast-cancer data. For every test row the prediction over HTTP equals
# `mlplane xgb predict`'s (the XGBoost C API's), one request per row, then all
# rows in one request (flat and nested), and under concurrent load; every
# endpoint; a unix-domain socket; SIGTERM drains the request in flight, exits 0.
. "$(dirname "$0")/lib.sh"

DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
mlp data split "$DATA" --test-fraction 0.2 --seed 42 --train "$T_DIR/train.csv" --test "$T_DIR/test.csv" >/dev/null
mlp xgb train --train "$T_DIR/train.csv" --model "$T_DIR/bc.json" --rounds 60 --max-depth 4 --quiet
mlp xgb predict --model "$T_DIR/bc.json" --data "$T_DIR/test.csv" --out "$T_DIR/want.txt"
tail -n +2 "$T_DIR/test.csv" | cut -d, -f1-30 >"$T_DIR/rows.txt"
NROWS=$(wc -l <"$T_DIR/rows.txt")
[ "$NROWS" -gt 100 ] || fail "expected over 100 test rows, got $NROWS"
DIGEST=$(sha256sum "$T_DIR/bc.json" | cut -c1-12)

start_serve "$T_DIR/bc.json" --listen 127.0.0.1:0 --name breast-cancer
assert_contains "$(head -1 "$SERVE_OUT")" "(model breast-cancer version $DIGEST, $T_DIR/bc.json)" "first line"
U="$SERVE_URL/v2/models/breast-cancer"
# the values of a response's "data", one a line (as %.9g prints them)
data_of() { grep -o '"data":\[[^]]*\]' | sed 's/^"data":\[//; s/\]$//' | tr , '\n'; }

# --- every test row, one request each ---
: >"$T_DIR/got.txt"
i=0
while IFS= read -r row; do
  i=$((i + 1))
  resp=$(curl -sf -XPOST "$U/infer" -H 'Content-Type: application/json' \
    -d '{"id":"row-'$i'","inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":['"$row"']}]}') ||
    fail "row $i: request failed"
  [ "$(jq -r .id <<<"$resp")" = "row-$i" ] || fail "row $i: id not echoed: $resp"
  data_of <<<"$resp" >>"$T_DIR/got.txt"
done <"$T_DIR/rows.txt"
diff "$T_DIR/want.txt" "$T_DIR/got.txt" >/dev/null || fail "HTTP predictions differ from mlplane xgb predict: $(diff "$T_DIR/want.txt" "$T_DIR/got.txt" | head -5)"
ok "all $NROWS test rows, one request each: HTTP predictions equal the C API's exactly"

# --- all rows in one request, flat and nested ---
flat=$(paste -sd, "$T_DIR/rows.txt")
nested=$(sed 's/.*/[&]/' "$T_DIR/rows.txt" | paste -sd,)
for form in flat nested; do
  d=$flat; [ $form = nested ] && d=$nested
  printf '{"inputs":[{"name":"input-0","shape":[%d,30],"datatype":"FP32","data":[%s]}]}' "$NROWS" "$d" >"$T_DIR/batch-$form.json"
  curl -sf -D "$T_DIR/headers" -o "$T_DIR/batch.out" -XPOST "$U/infer" --data-binary @"$T_DIR/batch-$form.json" ||
    fail "$form batch failed"
  data_of <"$T_DIR/batch.out" >"$T_DIR/got-batch.txt"
  diff -q "$T_DIR/want.txt" "$T_DIR/got-batch.txt" >/dev/null || fail "$form batch predictions differ"
  assert_eq "$(jq -c '.outputs[0] | [.name, .datatype, .shape]' "$T_DIR/batch.out")" "[\"predict\",\"FP32\",[$NROWS]]" "$form batch output"
  assert_eq "$(jq -r '.model_name + " " + .model_version' "$T_DIR/batch.out")" "breast-cancer $DIGEST" "$form batch model"
  assert_contains "$(tr -d '\r' <"$T_DIR/headers")" "X-Model-Version: $DIGEST" "$form batch header"
done
ok "one request of all $NROWS rows, flat and nested: the same predictions, X-Model-Version $DIGEST"

# --- concurrent load: 16 clients, 160 batch requests, every answer exact ---
seq 160 | xargs -P 16 -I{} sh -c 'curl -sf -XPOST "$1" --data-binary @"$2" -o "$3/par-{}.out"' _ \
  "$U/versions/$DIGEST/infer" "$T_DIR/batch-flat.json" "$T_DIR" || fail "a concurrent request failed"
for f in "$T_DIR"/par-*.out; do
  cmp -s "$f" "$T_DIR/batch.out" || fail "a concurrent answer differs: $f"
done
ok "160 concurrent batch requests from 16 clients: identical, exact answers"

# --- every endpoint ---
assert_eq "$(curl -sf "$SERVE_URL/v2" | jq -c '[.name, .extensions]')" '["mlplane",["binary_tensor_data"]]' "server metadata"
assert_eq "$(curl -sf "$SERVE_URL/v2" | jq -r .version)" "$(mlp version | awk 'NR==1 {print $2}')" "server version"
assert_eq "$(curl -sf "$SERVE_URL/v2/health/live")" '{"live":true}' "live"
assert_eq "$(curl -sf "$SERVE_URL/v2/health/ready")" '{"ready":true}' "ready"
for p in "$U" "$U/versions/$DIGEST"; do
  assert_eq "$(curl -sf "$p" | jq -c .)" \
    '{"name":"breast-cancer","versions":["'$DIGEST'"],"platform":"xgboost_json","inputs":[{"name":"input-0","datatype":"FP32","shape":[-1,30]}],"outputs":[{"name":"predict","datatype":"FP32","shape":[-1]}]}' \
    "model metadata at $p"
  assert_eq "$(curl -sf "$p/ready")" '{"name":"breast-cancer","ready":true}' "model ready at $p"
done
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -I "$U")" "200" "HEAD on metadata"
ok "GET /v2, /v2/health/live, /v2/health/ready, model metadata and ready, with and without a version"

# --- SIGTERM while a slow request is in flight ---
head -20 "$T_DIR/rows.txt" | paste -sd, | sed 's/^/{"inputs":[{"name":"input-0","shape":[20,30],"datatype":"FP32","data":[/; s/$/]}]}/' >"$T_DIR/slow.json"
curl -s -o "$T_DIR/slow.out" -w '%{http_code}' --limit-rate 2k -XPOST "$U/infer" --data-binary @"$T_DIR/slow.json" \
  >"$T_DIR/slow.code" &
CURL_PID=$!
sleep 1
rc=0
stop_server "$SERVE_PID" || rc=$?
assert_eq "$rc" "0" "exit status after SIGTERM"
wait "$CURL_PID" || fail "the in-flight request was cut off"
assert_eq "$(cat "$T_DIR/slow.code")" "200" "the in-flight request got its answer"
assert_eq "$(data_of <"$T_DIR/slow.out")" "$(head -20 "$T_DIR/want.txt")" "the in-flight request's predictions"
curl -s "$SERVE_URL/v2/health/live" >/dev/null && fail "still accepting after SIGTERM"
ok "SIGTERM: the slow request in flight is answered, exit 0, nothing listens after"

# --- a unix-domain socket ---
# its path must fit the 107 bytes of a unix socket address: the test's folder when
# it is short enough (the checkout may live deep), else a folder of its own in TMPDIR
SOCK="$T_DIR/serve.sock"
SOCK_TMP=
if [ ${#SOCK} -gt 100 ]; then
  SOCK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/it-sock.XXXXXX")
  [ $((${#SOCK_TMP} + 11)) -le 100 ] || { rm -rf "$SOCK_TMP"; SOCK_TMP=$(mktemp -d /tmp/it-sock.XXXXXX); }
  SOCK="$SOCK_TMP/serve.sock"
fi
LONG="$T_DIR/$(printf 'x%.0s' $(seq 1 110)).sock"
rc=0; out=$("$MLPLANE" serve "$T_DIR/bc.json" --listen "unix:$LONG" 2>&1) || rc=$?
[ "$rc" != 0 ] || fail "a socket path over 107 bytes was accepted"
assert_contains "$out" "longer than 107 bytes" "a socket path over 107 bytes"
start_serve "$T_DIR/bc.json" --listen "unix:$SOCK"
assert_eq "$SERVE_URL" "unix:$SOCK" "unix URL"
first=$(head -1 "$T_DIR/rows.txt")
resp=$(curl -sf --unix-socket "$SOCK" -XPOST http://x/v2/models/bc/infer \
  -d '{"inputs":[{"name":"input-0","shape":[30],"datatype":"FP32","data":['"$first"']}]}') || fail "infer over the socket"
assert_eq "$(data_of <<<"$resp")" "$(head -1 "$T_DIR/want.txt")" "prediction over the unix socket"
out=$("$MLPLANE" serve "$T_DIR/bc.json" --listen "unix:$SOCK" 2>&1) && fail "a second server took a live socket"
assert_contains "$out" "another server listens there" "live socket refused"
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
[ -S "$SOCK" ] || fail "expected the killed server's socket file to stay"
start_serve "$T_DIR/bc.json" --listen "unix:$SOCK"
stop_server "$SERVE_PID" || fail "unix socket server exit status"
[ ! -e "$SOCK" ] || fail "the socket file was left behind after SIGTERM"
[ -z "$SOCK_TMP" ] || rm -rf "$SOCK_TMP"
ok "--listen unix:PATH: served over the socket, a live socket is refused, a stale one replaced, removed on exit; a path over 107 bytes is refused"

# --- the command line ---
assert_contains "$(mlp serve --help)" "models:/NAME@ALIAS" "--help"
for args in "" "--listen 1.2.3:x $T_DIR/bc.json" "--name a/b $T_DIR/bc.json" "--threads 0 $T_DIR/bc.json" "a.json b.json"; do
  rc=0; out=$(mlp serve $args 2>&1) || rc=$?
  assert_eq "$rc" "2" "usage error for '$args' ($out)"
done
rc=0; out=$(mlp serve "$T_DIR/missing.json" 2>&1) || rc=$?
assert_eq "$rc" "1" "missing model exit status"
assert_contains "$out" "model file $T_DIR/missing.json does not exist" "missing model message"
rc=0; out=$(mlp serve "$T_DIR/test.csv" 2>&1) || rc=$?
assert_contains "$out" "no runtime reads" "a CSV is no model"
ok "usage errors exit 2, a missing or unreadable model exits 1 with the reason"
finish
