#!/bin/bash
# A local input larger than a request body may be travels in chunks: a server
# started with --max-body 6Mi takes a run whose input is a 21 MiB file (sent as
# 4 MiB chunks and assembled by the server), the step reads the same bytes, a
# second run sends nothing, and the assemble API refuses missing chunks and a
# wrong whole-file hash, storing nothing.
. "$(dirname "$0")/lib.sh"

SERVER_HOME="$T_DIR/server-home"
mkdir -p "$SERVER_HOME"
MLPLANE_HOME="$SERVER_HOME" start_server --max-body 6Mi
export MLPLANE_HOME="$T_DIR/client-home"
S=(--server "$SERVER_URL")

mkdir -p "$T_DIR/p"
head -c $((21 * 1024 * 1024 + 123)) /dev/urandom >"$T_DIR/p/big.bin"
want=$(sha256sum "$T_DIR/p/big.bin" | cut -d' ' -f1)
cat >"$T_DIR/p/pipeline.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: big}
spec:
  steps:
    - name: digest
      inputs: [{name: data, path: big.bin}]
      outputs: [{name: sum, path: sum.txt}]
      command: ["sh", "-c", "sha256sum {{inputs.data}} | cut -d' ' -f1 > $MLPLANE_OUTPUTS/sum.txt"]
YAML
out=$("$MLPLANE" "${S[@]}" run "$T_DIR/p/pipeline.yaml" 2>"$T_DIR/err") || fail "the run through the server: $(cat "$T_DIR/err")"
run=$(head -1 <<<"$out")
assert_contains "$out" "Succeeded" "the run with a 21 MiB input succeeded under --max-body 6Mi"
assert_contains "$(cat "$T_DIR/err")" "1 sent (21.0 MiB)" "the input was sent"
[ -f "$SERVER_HOME/uploads/sha256/${want:0:2}/$want" ] || fail "the whole file is a blob named by its SHA-256"
assert_eq "$(sha256sum "$SERVER_HOME/uploads/sha256/${want:0:2}/$want" | cut -d' ' -f1)" "$want" "the blob holds the same bytes"
got=$(cat "$SERVER_HOME"/runs/"$run"/digest/sum.txt)
assert_eq "$got" "$want" "the step read the same bytes"
ok "a local input larger than --max-body travels in chunks"

out=$("$MLPLANE" "${S[@]}" run "$T_DIR/p/pipeline.yaml" 2>"$T_DIR/err") || fail "again: $(cat "$T_DIR/err")"
assert_contains "$(cat "$T_DIR/err")" "0 sent" "nothing sent again"
ok "sent once"

code() { curl -s -o "$T_DIR/body" -w '%{http_code}' "$@"; }
printf 'part one' >"$T_DIR/c1"
c1=$(sha256sum "$T_DIR/c1" | cut -d' ' -f1)
assert_eq "$(code -X PUT --data-binary @"$T_DIR/c1" "$SERVER_URL/api/v1/uploads/sha256/$c1")" "201" "a chunk stored"
nothere=$(printf 'never sent' | sha256sum | cut -d' ' -f1)
whole=$(printf 'part onepart one' | sha256sum | cut -d' ' -f1)
blobs_before=$(find "$SERVER_HOME/uploads" -type f | wc -l)
assert_eq "$(code -X POST "$SERVER_URL/api/v1/uploads/assemble" -d "{\"sha256\": \"$whole\", \"chunks\": [\"$c1\", \"$nothere\"]}")" \
  "409" "a chunk not uploaded"
assert_contains "$(jq -r .message "$T_DIR/body")" "chunks[1] $nothere is not uploaded" "the missing chunk named"
assert_eq "$(code -X POST "$SERVER_URL/api/v1/uploads/assemble" -d "{\"sha256\": \"$nothere\", \"chunks\": [\"$c1\"]}")" \
  "400" "a whole-file hash the chunks do not make"
assert_contains "$(jq -r .message "$T_DIR/body")" "nothing was stored" "the mismatch said"
assert_eq "$(code -X POST "$SERVER_URL/api/v1/uploads/assemble" -d '{"sha256": "x", "chunks": []}')" "400" "a malformed request"
assert_eq "$(find "$SERVER_HOME/uploads" -type f | wc -l)" "$blobs_before" "nothing stored by the refused requests"
assert_eq "$(code -X POST "$SERVER_URL/api/v1/uploads/assemble" -d "{\"sha256\": \"$whole\", \"chunks\": [\"$c1\", \"$c1\"]}")" \
  "201" "assembled"
assert_eq "$(curl -sf "$SERVER_URL/api/v1/uploads/sha256/$whole")" "part onepart one" "the assembled blob"
assert_eq "$(code -X POST "$SERVER_URL/api/v1/uploads/assemble" -d "{\"sha256\": \"$whole\", \"chunks\": [\"$c1\", \"$c1\"]}")" \
  "200" "already there"
ok "the assemble API: missing chunks and a wrong hash refused, nothing stored"
finish
