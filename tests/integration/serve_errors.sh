#!/bin/bash
# mlplane serve facing bad input over real HTTP: each error of the protocol
# (bad JSON, wrong shape, datatype, feature count, unknown model or version,
# wrong method, oversize bodies, hostile raw requests) gets its status and a
# {"error": ...} body that says why, and the server keeps answering correctly.
. "$(dirname "$0")/lib.sh"

DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
mlp xgb train --train "$DATA" --model "$T_DIR/bc.json" --rounds 20 --max-depth 3 --quiet
start_serve "$T_DIR/bc.json" --listen 127.0.0.1:0 --max-body 4096
U="$SERVE_URL/v2/models/bc"
ROW=$(sed -n 2p "$DATA" | cut -d, -f1-30)
GOOD='{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":['"$ROW"']}]}'
want=$(curl -sf -XPOST "$U/infer" -d "$GOOD") || fail "a good request failed"

# check STATUS NEEDLE METHOD PATH [BODY]: the status and the error message
check() {
  local status=$1 needle=$2 method=$3 path=$4 body=${5-}
  local out code
  if [ $# -ge 5 ]; then
    code=$(curl -s -o "$T_DIR/err.json" -w '%{http_code}' -X "$method" "$SERVE_URL$path" --data-binary "$body")
  else
    code=$(curl -s -o "$T_DIR/err.json" -w '%{http_code}' -X "$method" "$SERVE_URL$path")
  fi
  [ "$code" = "$status" ] || fail "$method $path ${body:0:60}: expected $status, got $code: $(cat "$T_DIR/err.json")"
  out=$(jq -r .error "$T_DIR/err.json") || fail "$method $path: the error body is not JSON: $(cat "$T_DIR/err.json")"
  assert_eq "$(jq -r 'keys | join(",")' "$T_DIR/err.json")" "error" "$method $path: the error body has only \"error\""
  assert_contains "$out" "$needle" "$method $path ${body:0:60}"
}
row_with() { # DATATYPE SHAPE VALUE: 30 copies of VALUE
  local v; v=$(printf "$3,%.0s" $(seq 30)); v=${v%,}
  echo '{"inputs":[{"name":"input-0","shape":'"$2"',"datatype":"'"$1"'","data":['"$v"']}]}'
}

check 400 "malformed JSON at line 1" POST /v2/models/bc/infer '{"inputs": ['
check 400 "the request body is empty" POST /v2/models/bc/infer ''
check 400 "must be a JSON object" POST /v2/models/bc/infer '"x"'
check 400 '"inputs" is missing' POST /v2/models/bc/infer '{"id": "1"}'
check 400 '"id" must be a string' POST /v2/models/bc/infer '{"id": 1, "inputs": []}'
check 400 'unknown input "x"' POST /v2/models/bc/infer '{"inputs":[{"name":"x","shape":[1,30],"datatype":"FP32","data":[]}]}'
check 400 "has 2 inputs" POST /v2/models/bc/infer '{"inputs":[{},{}]}'
check 400 "gives 29 features per row but the model takes 30" POST /v2/models/bc/infer "$(row_with FP32 '[1,29]' 1)"
check 400 "gives 31 features per row but the model takes 30" POST /v2/models/bc/infer "$(row_with FP32 '[1,31]' 1)"
check 400 "holds 30 values but the shape asks for 90" POST /v2/models/bc/infer "$(row_with FP32 '[3,30]' 1)"
check 400 "has 3 dimensions" POST /v2/models/bc/infer "$(row_with FP32 '[1,1,30]' 1)"
check 400 "data[0] is a string; FP32 data are numbers" POST /v2/models/bc/infer "$(row_with FP32 '[1,30]' '"1"')"
check 400 "data[0] is a number; INT64 data are integers" POST /v2/models/bc/infer "$(row_with INT64 '[1,30]' 2.5)"
check 400 "BOOL data are true or false" POST /v2/models/bc/infer "$(row_with BOOL '[1,30]' 1)"
check 400 "out of the range of INT32" POST /v2/models/bc/infer "$(row_with INT32 '[1,30]' 3000000000)"
check 400 'unknown datatype "float32"' POST /v2/models/bc/infer "$(row_with float32 '[1,30]' 1)"
check 400 'BYTES data cannot be JSON values' POST /v2/models/bc/infer "$(row_with BYTES '[1,30]' 1)"
check 400 "data[1] is null" POST /v2/models/bc/infer '{"inputs":[{"name":"input-0","shape":[30],"datatype":"FP32","data":[1,null'"$(printf ',1%.0s' $(seq 28))"']}]}'
check 400 'unknown output "proba"' POST /v2/models/bc/infer '{"inputs":[{}],"outputs":[{"name":"proba"}]}'
check 404 "unknown model nope (served: bc)" POST /v2/models/nope/infer "$GOOD"
check 404 "model bc has no version 3" POST /v2/models/bc/versions/3/infer "$GOOD"
check 404 "model bc has no version 3" GET /v2/models/bc/versions/3
check 404 "unknown model nope" GET /v2/models/nope/ready
check 404 "no endpoint GET /v2/models/bc/explain" GET /v2/models/bc/explain
check 404 "no endpoint" GET /
check 405 "GET is not allowed on /v2/models/bc/infer (allowed: POST)" GET /v2/models/bc/infer
check 405 "allowed: GET" POST /v2/models/bc ''
check 405 "allowed: GET" DELETE /v2/health/ready
assert_contains "$(curl -s -D - -o /dev/null "$U/infer" | tr -d '\r')" "Allow: POST" "405 Allow header"
ok "each protocol error: its status and a {\"error\": ...} that names the problem"

# --- bodies over --max-body ---
head -c 5000 /dev/zero | tr '\0' ' ' >"$T_DIR/big"
check 413 "larger than the server's limit of 4096 bytes" POST /v2/models/bc/infer "$(cat "$T_DIR/big")"
code=$(curl -s -o "$T_DIR/err.json" -w '%{http_code}' -XPOST "$U/infer" -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/big")
assert_eq "$code" "413" "a chunked body over the limit"
ok "--max-body: 413 for a declared and for a chunked body over the limit"

# --- hostile raw requests ---
PORT=${SERVE_URL##*:}
raw() { printf '%b' "$1" | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat >&3; cat <&3" 2>/dev/null || true; }
raw 'GARBAGE\r\n\r\n' >/dev/null
raw '\x00\x01\x02\xff\r\n\r\n' >/dev/null
assert_contains "$(raw 'POST /v2/models/bc/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{\xff\xfe}\x00' | head -1)" "400" "invalid UTF-8 in JSON"
assert_contains "$(raw 'GET /v2/models/b%00c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | head -1)" "400" "%00 in the path"
assert_contains "$(raw 'GET /v2/models/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' | tail -1)" "unknown model" "invalid UTF-8 in the path"
case "$(raw "GET /v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: $(head -c 100000 /dev/zero | tr '\0' a)\r\n\r\n" | head -1)" in
  "" | *431* | *413* | *400*) ;;
  *) fail "a huge header was not refused";;
esac
check 400 "shape asks for" POST /v2/models/bc/infer '{"inputs":[{"name":"input-0","shape":[9223372036854775807,30],"datatype":"FP32","data":[]}]}'
deep=$(printf '[%.0s' $(seq 3000))
check 400 "malformed JSON" POST /v2/models/bc/infer "$deep"
assert_eq "$(curl -sf "$SERVE_URL/v2/health/live")" '{"live":true}' "live after hostile input"
assert_eq "$(curl -sf -XPOST "$U/infer" -d "$GOOD")" "$want" "the same prediction after hostile input"
ok "hostile requests do not hurt the server: it answers the same prediction after them"
stop_server "$SERVE_PID" || fail "exit status after SIGTERM"
finish
