#!/bin/bash
# audit_log: mlplane server appends a hash-chained line to HOME/audit/audit.log for
# each mutating request (MLflow experiments/create, runs/create, log-batch,
# /api/v1/apply, a failed delete) and none for reads, read-only POSTs (runs/search)
# or unknown endpoints; every answer has an X-Request-Id, the id of its line.
# `mlplane audit log` shows the lines (-o json, --user, --since), `audit verify`
# passes, and on copies of the log fails naming the first bad line for each kind
# of tampering: an edited field, a removed line, an inserted forged line (a
# made-up hash, or one recomputed as the writer would), two lines swapped, the last
# line's hash cut. With --audit-key each line is signed: verify --public-key passes
# with the pair's public key and fails with another's.
. "$(dirname "$0")/lib.sh"

A=/api/2.0/mlflow
LOG="$MLPLANE_HOME/audit/audit.log"
mlp audit keygen --out "$T_DIR/audit.key" >/dev/null || fail "audit keygen"
[ "$(stat -c %a "$T_DIR/audit.key")" = 600 ] || fail "the signing key is not mode 0600"
mlp audit keygen --out "$T_DIR/other.key" >/dev/null || fail "second keygen"
out=$(mlp audit keygen --out "$T_DIR/audit.key" 2>&1) && fail "keygen overwrote a key"
assert_contains "$out" "exists already" "keygen refuses to overwrite"
ok "audit keygen writes a pair (0600) and refuses to overwrite"
cp "$T_DIR/audit.key" "$T_DIR/open.key"
chmod 644 "$T_DIR/open.key"
out=$(mlp server --listen 127.0.0.1:0 --audit-key "$T_DIR/open.key" 2>&1) && fail "server started with a key readable by others"
assert_contains "$out" "readable by others" "a key readable by others is refused"
out=$(mlp server --listen 127.0.0.1:0 --audit-key "$T_DIR/audit.key.pub" 2>&1) && fail "server started with a public key as its signing key"
ok "the server refuses a signing key readable by others, and a file that is not a signing key"

start_server --audit-key "$T_DIR/audit.key"
trap 'stop_server $SERVER_PID >/dev/null 2>&1 || true; cleanup' EXIT

# post PATH BODY: prints the status; headers land in $T_DIR/hdr, the body in $T_DIR/body
post() {
  curl -s -D "$T_DIR/hdr" -o "$T_DIR/body" -w '%{http_code}' -X POST "$SERVER_URL$1" \
    -H 'Content-Type: application/json' --data "$2"
}
reqid() { tr -d '\r' <"$T_DIR/hdr" | sed -n 's/^[Xx]-[Rr]equest-[Ii]d: //p'; }

assert_eq "$(post $A/experiments/create '{"name":"audited"}')" 200 "experiments/create"
EXP=$(jq -r .experiment_id "$T_DIR/body")
ID1=$(reqid)
[ -n "$ID1" ] || fail "no X-Request-Id on experiments/create"
assert_eq "$(post $A/runs/create "{\"experiment_id\":\"$EXP\"}")" 200 "runs/create"
RUN=$(jq -r .run.info.run_id "$T_DIR/body")
assert_eq "$(post $A/runs/log-batch "{\"run_id\":\"$RUN\",\"metrics\":[{\"key\":\"m\",\"value\":1,\"timestamp\":1,\"step\":0}]}")" 200 "log-batch"
YAML='apiVersion: mlplane.dev/v1
kind: PriorityClass
metadata:
  name: audited-high
value: 1000'
assert_eq "$(post /api/v1/apply "$(jq -n --arg t "$YAML" '{files: [{path: "pc.yaml", text: $t}]}')")" 200 "/api/v1/apply"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$SERVER_URL/api/v1/objects/Deployment/missing")" 404 "delete a missing Deployment"
# not audited: a read, a read-only POST, an unknown endpoint, a method the path does not take
assert_eq "$(curl -s -D "$T_DIR/hdr" -o /dev/null -w '%{http_code}' "$SERVER_URL$A/experiments/get?experiment_id=$EXP")" 200 "a read"
[ -n "$(reqid)" ] || fail "no X-Request-Id on a read"
assert_eq "$(post $A/runs/search "{\"experiment_ids\":[\"$EXP\"]}")" 200 "runs/search"
assert_eq "$(post /api/v1/nothing '{}')" 404 "unknown endpoint"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$SERVER_URL/api/v1/runs")" 405 "405"
ok "mutating requests answered, each with an X-Request-Id"

# The lines are on disk before the answers went out: no waiting needed.
assert_eq "$(wc -l <"$LOG" | tr -d ' ')" 5 "one line per mutating request, none for reads, searches, 404 and 405"
mlp audit log -o json >"$T_DIR/log.json" || fail "audit log -o json"
assert_eq "$(jq length "$T_DIR/log.json")" 5 "audit log -o json: entries"
assert_eq "$(jq -r '[.[] | .verb + " " + .resource] | join(",")' "$T_DIR/log.json")" \
  "create experiments,create runs,update runs,create objects,delete deployments" "verbs and resources"
assert_eq "$(jq -r '.[0].name' "$T_DIR/log.json")" audited "experiments/create: the name from the body"
assert_eq "$(jq -r '.[1].name' "$T_DIR/log.json")" "$RUN" "runs/create: the run id from the answer"
assert_eq "$(jq -r '.[2].name' "$T_DIR/log.json")" "$RUN" "log-batch: the run id"
assert_eq "$(jq -r '.[4].name + " " + .[4].result + " " + (.[4].status|tostring)' "$T_DIR/log.json")" \
  "missing error 404" "a failed delete is audited as an error"
assert_eq "$(jq -r '.[0].request_id' "$T_DIR/log.json")" "$ID1" "the line carries the answer's X-Request-Id"
assert_eq "$(jq -r '[.[] | .source] | unique | join(",")' "$T_DIR/log.json")" 127.0.0.1 "source address"
assert_eq "$(jq -r '[.[] | .result] | .[0:4] | unique | join(",")' "$T_DIR/log.json")" allowed "results"
jq -r '.[0].time' "$T_DIR/log.json" | grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' >/dev/null ||
  fail "time is not RFC 3339 UTC with ms: $(jq -r '.[0].time' "$T_DIR/log.json")"
jq -e 'all(.[]; (.sig | length) == 128 and (.hash | length) == 64 and (.prev | length) == 64)' "$T_DIR/log.json" >/dev/null ||
  fail "lines without hash, prev or sig"
assert_eq "$(mlp audit log --user nobody -o json | jq length)" 0 "--user filters"
assert_eq "$(mlp audit log --user '' --since 1h -o json | jq length)" 5 "--user '' (anonymous) --since 1h"
assert_eq "$(mlp audit log --since 2999-01-01T00:00:00Z -o json | jq length)" 0 "--since a later time"
table=$(mlp audit log) || fail "audit log (table)"
assert_contains "$table" "REQUEST-ID" "table header"
assert_contains "$table" "experiments" "table rows"
mlp audit log --since yesterday >/dev/null 2>&1 && fail "--since yesterday accepted"
ok "audit log: entries with verb, resource, name, result, request id; --user, --since, -o json and table"

out=$(mlp audit verify) || fail "verify of the server's log: $out"
assert_contains "$out" "5 lines verified" "verify"
out=$(mlp audit verify --public-key "$T_DIR/audit.key.pub") || fail "verify --public-key: $out"
assert_contains "$out" "every one signed" "verify --public-key"
out=$(mlp audit verify --public-key "$T_DIR/other.key.pub" 2>&1) && fail "verify passed with another key's public key"
assert_contains "$out" "line 1 is bad" "wrong public key: line 1"
assert_contains "$out" "signature does not verify" "wrong public key: what"
ok "verify passes, signatures check with the pair's public key and fail with another"

stop_server "$SERVER_PID" || true
# tampered COPY EXPECTED_LINE WORDS: verify --file COPY fails naming line EXPECTED_LINE and WORDS
tampered() {
  local out
  out=$(mlp audit verify --file "$1" 2>&1) && fail "verify passed on $(basename "$1"): $out"
  assert_contains "$out" "line $2 is bad" "$(basename "$1"): first bad line"
  assert_contains "$out" "$3" "$(basename "$1"): what"
}
cp "$LOG" "$T_DIR/edited.log"
sed -i '3s/"status":200/"status":201/' "$T_DIR/edited.log"
tampered "$T_DIR/edited.log" 3 "hash does not match its content"
cp "$LOG" "$T_DIR/edited-user.log"
sed -i '2s/"user":""/"user":"ana"/' "$T_DIR/edited-user.log"
tampered "$T_DIR/edited-user.log" 2 "was edited"
sed '3d' "$LOG" >"$T_DIR/removed.log"
tampered "$T_DIR/removed.log" 3 "a line was removed, inserted or moved"
sed '1d' "$LOG" >"$T_DIR/removed-first.log"
tampered "$T_DIR/removed-first.log" 1 "lines before it were removed"
# a forged line after line 2: a copy of line 2 with another name and a made-up hash
forged=$(sed -n 2p "$LOG" | jq -c --arg p "$(sed -n 2p "$LOG" | jq -r .hash)" \
  '.name = "forged" | .prev = $p | .hash = "ab" * 32 | del(.sig)')
{ sed -n 1,2p "$LOG"; echo "$forged"; sed -n '3,$p' "$LOG"; } >"$T_DIR/inserted.log"
tampered "$T_DIR/inserted.log" 3 "hash does not match"
# the same line with its hash recomputed as the writer does: that line passes, the next one fails
prev2=$(sed -n 2p "$LOG" | jq -r .hash)
canon=$(sed -n 2p "$LOG" | jq -c --arg p "$prev2" '.name = "forged" | .prev = $p | del(.hash, .sig)')
if command -v b2sum >/dev/null; then
  h=$(printf '%s%s' "$prev2" "$canon" | b2sum -l 256 | cut -d' ' -f1)
  { sed -n 1,2p "$LOG"; echo "$canon" | jq -c --arg h "$h" '. + {hash: $h}'; sed -n '3,$p' "$LOG"; } >"$T_DIR/inserted2.log"
  tampered "$T_DIR/inserted2.log" 4 "not the hash of line 3"
  out=$(mlp audit verify --file "$T_DIR/inserted2.log" --public-key "$T_DIR/audit.key.pub" 2>&1) && fail "signed verify passed a forged line"
  assert_contains "$out" "line 3 is bad" "a recomputed forged line: the signature check names it"
fi
{ sed -n 1,1p "$LOG"; sed -n 3p "$LOG"; sed -n 2p "$LOG"; sed -n '4,$p' "$LOG"; } >"$T_DIR/swapped.log"
tampered "$T_DIR/swapped.log" 2 "not the hash of line 1"
# the last line's hash cut short (the line ends where the hash was cut)
last=$(tail -n 1 "$LOG" | sed 's/\("hash":"[0-9a-f]\{20\}\).*/\1/')
{ head -n 4 "$LOG"; echo "$last"; } >"$T_DIR/cut.log"
tampered "$T_DIR/cut.log" 5 "not a JSON object"
# ... and its hash replaced by a shorter one, the line still JSON
tail -n 1 "$LOG" | jq -c '.hash = .hash[0:60]' >"$T_DIR/last.json"
{ head -n 4 "$LOG"; cat "$T_DIR/last.json"; } >"$T_DIR/short.log"
tampered "$T_DIR/short.log" 5 "no valid \"hash\""
# a signature removed, checked with the key
{ head -n 1 "$LOG"; sed -n 2p "$LOG" | jq -c 'del(.sig)'; sed -n '3,$p' "$LOG"; } >"$T_DIR/unsigned.log"
mlp audit verify --file "$T_DIR/unsigned.log" >/dev/null || fail "without --public-key a missing sig is not checked"
out=$(mlp audit verify --file "$T_DIR/unsigned.log" --public-key "$T_DIR/audit.key.pub" 2>&1) && fail "a missing signature passed"
assert_contains "$out" "line 2 is bad: it carries no signature" "missing signature"
mlp audit verify --file "$LOG" >/dev/null || fail "the original log no longer verifies"
ok "verify names the first bad line: edited, removed, inserted (made-up or recomputed hash), swapped, cut, unsigned"

# A server restarted on the same home chains after the last line (the hash read back).
start_server
assert_eq "$(post $A/experiments/create '{"name":"after-restart"}')" 200 "create after restart"
assert_eq "$(wc -l <"$LOG" | tr -d ' ')" 6 "one more line"
out=$(mlp audit verify) || fail "verify after restart: $out"
assert_contains "$out" "6 lines verified" "verify after restart"
ok "a restarted server chains after the existing log"

out=$(mlp audit --help)
assert_contains "$out" "--public-key" "audit --help"
assert_contains "$(mlp server --help)" "--audit-key" "server --help"
finish
