#!/bin/bash
# mlplane serve's binary tensor data extension over real HTTP (curl --data-binary,
# the tensors packed with perl): every test row's prediction from binary FP32
# and FP64 inputs, with binary and JSON outputs, one request for all rows and
# one request per row, equals `mlplane xgb predict`'s (the XGBoost C API's) and
# so the JSON path's; the response's layout (Inference-Header-Content-Length,
# application/octet-stream, binary_data_size); each malformed body is a 400
# that says why, and the server goes on answering.
. "$(dirname "$0")/lib.sh"

DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
mlp data split "$DATA" --test-fraction 0.2 --seed 7 --train "$T_DIR/train.csv" --test "$T_DIR/test.csv" >/dev/null
mlp xgb train --train "$T_DIR/train.csv" --model "$T_DIR/bc.json" --rounds 60 --max-depth 4 --quiet
mlp xgb predict --model "$T_DIR/bc.json" --data "$T_DIR/test.csv" --out "$T_DIR/want.txt"
tail -n +2 "$T_DIR/test.csv" | cut -d, -f1-30 >"$T_DIR/rows.txt"
NROWS=$(wc -l <"$T_DIR/rows.txt")
[ "$NROWS" -gt 100 ] || fail "expected over 100 test rows, got $NROWS"

start_serve "$T_DIR/bc.json" --listen 127.0.0.1:0 --name bc
U="$SERVE_URL/v2/models/bc/infer"
assert_eq "$(curl -sf "$SERVE_URL/v2" | jq -c .extensions)" '["binary_tensor_data"]' "server metadata names the extension"

# pack FORMAT < rows: every value of every line, packed little-endian (f< FP32, d< FP64)
pack() { perl -ne 'chomp; print pack("'"$1"'*", split /,/)'; }
# body FILE JSON [DATA_FILE]: FILE = JSON then DATA_FILE's bytes; prints the JSON's length
body() { printf '%s' "$2" >"$1"; [ -z "${3:-}" ] || cat "$3" >>"$1"; printf '%s' "${#2}"; }
# post BODY_FILE HEADER_LEN OUT: POSTs with the header (none when HEADER_LEN is -), the answer in OUT,
# its headers in OUT.h; prints the status
post() {
  local h=()
  [ "$2" = - ] || h=(-H "Inference-Header-Content-Length: $2")
  curl -s -o "$3" -D "$3.h" -w '%{http_code}' -XPOST "$U" -H 'Content-Type: application/octet-stream' "${h[@]}" --data-binary @"$1"
}
# split_answer OUT: OUT.json (the JSON part) and OUT.bin (the bytes after it), by the response header
split_answer() {
  local n
  n=$(tr -d '\r' <"$1.h" | sed -n 's/^Inference-Header-Content-Length: //Ip')
  [ -n "$n" ] || fail "no Inference-Header-Content-Length in the answer: $(cat "$1.h")"
  head -c "$n" "$1" >"$1.json"
  tail -c +"$((n + 1))" "$1" >"$1.bin"
}
floats() { perl -e 'local $/; printf "%.9g\n", $_ for unpack("f<*", <STDIN>)'; }
data_of() { jq -r '.outputs[0].data[] | tostring' | perl -ne 'printf "%.9g\n", $_'; }

# --- all rows in one request: FP32 and FP64 in, binary and JSON out ---
pack 'f<' <"$T_DIR/rows.txt" >"$T_DIR/x32.bin"
pack 'd<' <"$T_DIR/rows.txt" >"$T_DIR/x64.bin"
assert_eq "$(wc -c <"$T_DIR/x32.bin")" "$((NROWS * 30 * 4))" "FP32 bytes"
for dt in FP32 FP64; do
  w=4; f="$T_DIR/x32.bin"; [ $dt = FP64 ] && { w=8; f="$T_DIR/x64.bin"; }
  size=$((NROWS * 30 * w))
  for out in binary json; do
    outs=''; [ $out = binary ] && outs=',"outputs":[{"name":"predict","parameters":{"binary_data":true}}]'
    hdr='{"id":"all","inputs":[{"name":"input-0","shape":['"$NROWS"',30],"datatype":"'$dt'","parameters":{"binary_data_size":'$size'}}]'"$outs"'}'
    len=$(body "$T_DIR/req" "$hdr" "$f")
    code=$(post "$T_DIR/req" "$len" "$T_DIR/ans")
    assert_eq "$code" "200" "$dt in, $out out: $(head -c 300 "$T_DIR/ans")"
    if [ $out = binary ]; then
      split_answer "$T_DIR/ans"
      assert_contains "$(tr -d '\r' <"$T_DIR/ans.h")" "Content-Type: application/octet-stream" "$dt binary answer's type"
      assert_eq "$(jq -c '.outputs[0] | [.name, .datatype, .shape, .parameters.binary_data_size, has("data")]' "$T_DIR/ans.json")" \
        "[\"predict\",\"FP32\",[$NROWS],$((NROWS * 4)),false]" "$dt binary output"
      assert_eq "$(jq -r .id "$T_DIR/ans.json")" "all" "$dt id echoed"
      floats <"$T_DIR/ans.bin" >"$T_DIR/got.txt"
    else
      assert_contains "$(tr -d '\r' <"$T_DIR/ans.h")" "Content-Type: application/json" "$dt JSON answer's type"
      data_of <"$T_DIR/ans" >"$T_DIR/got.txt"
    fi
    diff -q "$T_DIR/want.txt" "$T_DIR/got.txt" >/dev/null ||
      fail "$dt in, $out out: predictions differ from mlplane xgb predict: $(diff "$T_DIR/want.txt" "$T_DIR/got.txt" | head -5)"
  done
done
ok "all $NROWS rows in one request, FP32 and FP64 binary in, binary and JSON out: the C API's predictions exactly"

# --- every row alone, binary in and out (as Triton's HTTP client sends by default) ---
: >"$T_DIR/got.txt"
i=0
while IFS= read -r row; do
  i=$((i + 1))
  printf '%s\n' "$row" | pack 'f<' >"$T_DIR/row.bin"
  len=$(body "$T_DIR/req" '{"id":"r'$i'","parameters":{"binary_data_output":true},"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":120}}]}' "$T_DIR/row.bin")
  code=$(post "$T_DIR/req" "$len" "$T_DIR/ans")
  [ "$code" = 200 ] || fail "row $i: $code $(cat "$T_DIR/ans")"
  split_answer "$T_DIR/ans"
  floats <"$T_DIR/ans.bin" >>"$T_DIR/got.txt"
done <"$T_DIR/rows.txt"
diff -q "$T_DIR/want.txt" "$T_DIR/got.txt" >/dev/null || fail "per-row binary predictions differ: $(diff "$T_DIR/want.txt" "$T_DIR/got.txt" | head -5)"
ok "all $NROWS rows one request each, binary in and out: the C API's predictions exactly"

# --- malformed bodies: 400 with the reason ---
head -1 "$T_DIR/rows.txt" | pack 'f<' >"$T_DIR/one.bin"
head -c 60 "$T_DIR/one.bin" >"$T_DIR/half.bin"
{ cat "$T_DIR/one.bin"; printf 'XXXX'; } >"$T_DIR/extra.bin"
GOOD='{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":120}}]}'
# bad HEADER_LEN NEEDLE JSON [DATA_FILE]: HEADER_LEN "=" for the JSON's own length, "-" for none
bad() {
  local len
  len=$(body "$T_DIR/req" "$3" "${4:-}")
  [ "$1" = "=" ] || len=$1
  code=$(post "$T_DIR/req" "$len" "$T_DIR/err")
  [ "$code" = 400 ] || fail "expected 400 for '$2', got $code: $(cat "$T_DIR/err")"
  assert_eq "$(jq -r 'keys | join(",")' "$T_DIR/err")" "error" "an error body for '$2'"
  assert_contains "$(jq -r .error "$T_DIR/err")" "$2" "400 reason"
}
bad = 'only 60 bytes of binary data follow the 102-byte JSON inference header' "$GOOD" "$T_DIR/half.bin"
bad = '"binary_data_size" is 100 but 1 rows of 30 FP32 features take 120 bytes' \
  '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":100}}]}' "$T_DIR/one.bin"
bad = 'holds 124 bytes of binary data after the 102-byte JSON inference header but the inputs'"'"' "binary_data_size" add up to 120' \
  "$GOOD" "$T_DIR/extra.bin"
bad 500 'Inference-Header-Content-Length is 500 but the body holds only 222 bytes' "$GOOD" "$T_DIR/one.bin"
bad -7 'Inference-Header-Content-Length "-7" is not a byte count' "$GOOD" "$T_DIR/one.bin"
bad 1e3 'Inference-Header-Content-Length "1e3" is not a byte count' "$GOOD" "$T_DIR/one.bin"
bad 0 'Inference-Header-Content-Length is 0' "$GOOD" "$T_DIR/one.bin"
bad 40 'malformed JSON inference header at line 1 column' "$GOOD" "$T_DIR/one.bin"
bad - 'to send binary tensor data after the JSON, give the Inference-Header-Content-Length header' "$GOOD" "$T_DIR/one.bin"
bad - 'input input-0 has "binary_data_size" but the request has no Inference-Header-Content-Length header' "$GOOD"
bad = 'unknown input "features": model bc takes one input, input-0' \
  '{"inputs":[{"name":"features","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":120}}]}' "$T_DIR/one.bin"
bad = 'has both "data" and "binary_data_size"' \
  '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":[],"parameters":{"binary_data_size":120}}]}' "$T_DIR/one.bin"
bad = '"binary_data_size" must be a whole number of bytes' \
  '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":-120}}]}' "$T_DIR/one.bin"
bad = 'BYTES (length-prefixed strings) cannot be the model'"'"'s numeric input' \
  '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"BYTES","parameters":{"binary_data_size":120}}]}' "$T_DIR/one.bin"
bad = '"binary_data" must be true or false' \
  '{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","parameters":{"binary_data_size":120}}],"outputs":[{"name":"predict","parameters":{"binary_data":"yes"}}]}' "$T_DIR/one.bin"
printf '\x00\x00\x80\x7f' | cat - "$T_DIR/one.bin" | head -c 120 >"$T_DIR/inf.bin"
bad = 'element 0 (row 0, feature 0) of the binary data is infinite' "$GOOD" "$T_DIR/inf.bin"
ok "truncated data, size mismatches, left-over bytes, bad header values, a missing header, unknown inputs, BYTES: 400 with the reason"

len=$(body "$T_DIR/req" "$GOOD" "$T_DIR/one.bin")
assert_eq "$(post "$T_DIR/req" "$len" "$T_DIR/ans")" "200" "a good binary request after the bad ones"
assert_eq "$(jq -r '.outputs[0].data[0] | tostring' "$T_DIR/ans" | perl -ne 'printf "%.9g\n", $_')" "$(head -1 "$T_DIR/want.txt")" \
  "the first row's prediction after the bad requests"
ok "the server answers correctly after the malformed bodies"
stop_server "$SERVE_PID" || fail "exit status after SIGTERM"
finish
