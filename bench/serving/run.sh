#!/bin/bash
# bench/serving — `mlplane serve` against the limits of this machine, measured in
# the same run:
#   (a) single-row infer (Open Inference Protocol v2, the serving peers' 643-byte
#       request: 30 FP32 features, shape [1, 30]) on the breast-cancer model with
#       wrk at 1, 16 and 64 connections, alternating with nginx answering a fixed
#       JSON reply of the same size to the same request (the peers' nginx.conf and
#       wrk script): req/s, p50 and p99 of both, and their ratio;
#   (b) rows/s of 1,000-row infer requests in the binary tensor data extension
#       (wrk, 2 connections per CPU; the same rows as JSON are an extra figure)
#       against the XGBoost C API called directly on the same rows, with one
#       thread per CPU as the server has, in-place prediction and nthread=1 as
#       the server calls it (the limit).
#   (c) for information, (a)'s request at 64 connections through
#       `mlplane serve --replicas 2` (a router in front of two worker processes).
#   (d) authentication and authorization on inference: two Deployments of the same
#       model under one `mlplane server --auth`, one public, one with
#       spec.auth.inference: token, (a)'s request at 16 connections, alternating,
#       the token's each request with the token of an ordinary user bound to the
#       built-in viewer role (each request checked: the review's answer cached).
# Targets: req/s at 64 connections >= 0.5 x nginx's; p99 at 16 connections <=
# 2 x nginx's p99 there; batch rows/s >= 0.8 x the direct C API's; (d) with a
# token at most 5% below without.
# The model is trained here as the demo trains it (mlplane xgb train on
# examples/data/breast_cancer.csv: 100 rounds, max depth 4).
# Installs nginx-light and wrk with apt when missing (through sudo when not
# root). nginx runs on a free 127.0.0.1 port with its own prefix, pid and temp
# paths, and is stopped by its PID, as is the server.
# Usage: bench/serving/run.sh BUILD_DIR   (env: ROUNDS=3 DURATION=4 SERVING_PEER_DIR=...)
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
DUR=${DURATION:-4}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MLPLANE="$BUILD/mlplane"
DIRECT="$BUILD/bench_serve_direct"
for b in "$MLPLANE" "$DIRECT"; do
  [ -x "$b" ] || { echo "bench-serving: $b is missing; build first (make)" >&2; exit 2; }
done
PEER=${SERVING_PEER_DIR:-}
if [ -z "$PEER" ]; then
  for d in "$ROOT/../shared/peers/serving" /work/shared/peers/serving; do
    [ -f "$d/nginx.conf" ] && { PEER=$d; break; }
  done
fi
[ -n "$PEER" ] && [ -f "$PEER/nginx.conf" ] && [ -f "$PEER/v2_post.lua" ] ||
  { echo "bench-serving: the serving peers' folder (nginx.conf, v2_post.lua) is missing; set SERVING_PEER_DIR" >&2; exit 2; }

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "bench-serving: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlplane-bench-serving.XXXXXX")
NGX_PID=; SERVE_PID=; ROUTER_PID=; AUTH_PID=
cleanup() {
  if [ -n "$AUTH_PID" ]; then kill -TERM "$AUTH_PID" 2>/dev/null || true; wait "$AUTH_PID" 2>/dev/null || true; fi
  if [ -n "$NGX_PID" ]; then kill -QUIT "$NGX_PID" 2>/dev/null || true; wait "$NGX_PID" 2>/dev/null || true; fi
  if [ -n "$SERVE_PID" ]; then kill -TERM "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
  if [ -n "$ROUTER_PID" ]; then kill -TERM "$ROUTER_PID" 2>/dev/null || true; wait "$ROUTER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- the model, the server, nginx ----
DATA="$ROOT/examples/data/breast_cancer.csv"
MODEL="$WORK/breast-cancer.json"
"$MLPLANE" xgb train --train "$DATA" --model "$MODEL" --rounds 100 --max-depth 4 --eta 0.1 --seed 42 --quiet

"$MLPLANE" serve "$MODEL" --listen 127.0.0.1:0 >"$WORK/serve.out" 2>&1 &
SERVE_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.05; done
SURL=$(sed -n 's/^mlplane serve listening on \(http:[^ ]*\) .*/\1/p' "$WORK/serve.out")
[ -n "$SURL" ] || { echo "bench-serving: mlplane serve did not start: $(cat "$WORK/serve.out")" >&2; exit 1; }
SURL="$SURL/v2/models/breast-cancer/infer"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
NPORT=$(( 20000 + RANDOM % 20000 ))
while ! port_free "$NPORT"; do NPORT=$((NPORT + 1)); done
mkdir -p "$WORK/nginx"
sed -e "s/listen 127.0.0.1:[0-9]*;/listen 127.0.0.1:$NPORT;/" "$PEER/nginx.conf" >"$WORK/nginx/nginx.conf"
nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/stdout.log" 2>&1 &
NGX_PID=$!
NURL="http://127.0.0.1:$NPORT/v2/models/m/infer"
LUA="$PEER/v2_post.lua"
for _ in $(seq 100); do curl -s -o /dev/null -XPOST --data-binary x "$NURL" && break; sleep 0.05; done

# Both answer the same request; the bodies are compared for size.
REQ=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$LUA")
sresp=$(curl -sf -XPOST -H 'Content-Type: application/json' --data-binary "$REQ" "$SURL") ||
  { echo "bench-serving: mlplane serve refused the peers' request" >&2; exit 1; }
nresp=$(curl -sf -XPOST -H 'Content-Type: application/json' --data-binary "$REQ" "$NURL") ||
  { echo "bench-serving: nginx did not answer: $(cat "$WORK/nginx/error.log")" >&2; exit 1; }
echo "bench-serving: $(nproc) CPUs, wrk ${DUR}s x $ROUNDS rounds per figure, alternating mlplane and nginx"
echo "  request ${#REQ} bytes; mlplane's reply ${#sresp} bytes, nginx's ${#nresp} bytes"

# wrk_run TAG THREADS CONNS URL SCRIPT -> "req/s p50_ms p99_ms non2xx" appended to $WORK/TAG
to_ms() { awk '{ v = $1; if (v ~ /us$/) printf "%.3f", v * 0.001; else if (v ~ /ms$/) printf "%.3f", v + 0; else if (v ~ /s$/) printf "%.3f", v * 1000; else print "nan" }'; }
wrk_run() {
  local out
  out=$(wrk -t"$2" -c"$3" -d"${DUR}s" --latency -s "$5" "$4")
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out" | to_ms)
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); bad=${bad:-0}
  echo "$rps $p50 $p99 $bad" >>"$WORK/$1"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$WORK/$1" | median; }

wrk -t2 -c16 -d2s -s "$LUA" "$SURL" >/dev/null # warm-up
wrk -t2 -c16 -d2s -s "$LUA" "$NURL" >/dev/null
for c in 1 16 64; do
  t=2; [ "$c" -eq 1 ] && t=1
  for r in $(seq "$ROUNDS"); do
    wrk_run "serve_c$c" "$t" "$c" "$SURL" "$LUA"
    wrk_run "nginx_c$c" "$t" "$c" "$NURL" "$LUA"
  done
  echo "  c=$c: mlplane $(col "serve_c$c" 1) req/s p50 $(col "serve_c$c" 2) ms p99 $(col "serve_c$c" 3) ms;" \
       "nginx $(col "nginx_c$c" 1) req/s p50 $(col "nginx_c$c" 2) ms p99 $(col "nginx_c$c" 3) ms"
done
errors=$(cat "$WORK"/serve_c* | awk '{s += $4} END {print s + 0}')
[ "$errors" -eq 0 ] || { echo "bench-serving: mlplane answered $errors requests with an error status" >&2; exit 1; }

# ---- batch: 1,000-row requests against the C API called directly ----
# Like with like: the direct figure runs $(nproc) threads, as many as the server's
# workers (--threads defaults to one per CPU), each predicting the same 1,000
# rows in one in-place call with nthread=1, as the server's runtime does. wrk
# keeps 2 requests per worker in flight. The request is the binary tensor data
# extension, as Triton's HTTP client sends it by default (FP32 rows after the
# JSON header, binary output); the same rows as JSON are an extra figure.
BC=$(( $(nproc) * 2 )); [ "$BC" -ge 4 ] || BC=4
"$DIRECT" body "$DATA" 1000 "$WORK/batch.json"
HLEN=$("$DIRECT" binbody "$DATA" 1000 "$WORK/batch.bin")
batch_lua() { # FILE CONTENT_TYPE [HEADER_LEN]
  echo 'wrk.method = "POST"'
  echo "wrk.headers[\"Content-Type\"] = \"$2\""
  [ -z "${3:-}" ] || echo "wrk.headers[\"Inference-Header-Content-Length\"] = \"$3\""
  echo "local f = assert(io.open(\"$1\", \"rb\"))"
  echo 'wrk.body = f:read("*a")'
  echo 'f:close()'
}
batch_lua "$WORK/batch.json" application/json >"$WORK/batch-json.lua"
batch_lua "$WORK/batch.bin" application/octet-stream "$HLEN" >"$WORK/batch.lua"
# Both forms answer the same predictions (the binary answer: JSON, then FP32 bytes).
curl -sf -o "$WORK/batch.json.out" -XPOST --data-binary @"$WORK/batch.json" "$SURL" ||
  { echo "bench-serving: the JSON batch request failed" >&2; exit 1; }
curl -sf -D "$WORK/batch.bin.h" -o "$WORK/batch.bin.out" -XPOST -H "Inference-Header-Content-Length: $HLEN" \
  --data-binary @"$WORK/batch.bin" "$SURL" || { echo "bench-serving: the binary batch request failed" >&2; exit 1; }
RLEN=$(tr -d '\r' <"$WORK/batch.bin.h" | sed -n 's/^Inference-Header-Content-Length: //Ip')
tail -c +"$((RLEN + 1))" "$WORK/batch.bin.out" | perl -e 'local $/; printf "%.9g\n", $_ for unpack("f<*", <STDIN>)' >"$WORK/p.bin"
{ sed 's/.*"data":\[//; s/\].*//' "$WORK/batch.json.out" | tr , '\n'; echo; } >"$WORK/p.json"
cmp -s "$WORK/p.bin" "$WORK/p.json" || { echo "bench-serving: the binary and JSON batch answers differ" >&2; exit 1; }
: >"$WORK/direct"
for r in $(seq "$ROUNDS"); do
  wrk_run batch 2 "$BC" "$SURL" "$WORK/batch.lua"
  wrk_run batch_json 2 "$BC" "$SURL" "$WORK/batch-json.lua"
  "$DIRECT" rate "$MODEL" "$DATA" 1000 "$(nproc)" "$DUR" | awk '{print $2}' >>"$WORK/direct"
done
BATCH=$(awk '{print $1 * 1000}' "$WORK/batch" | median)
BATCH_JSON=$(awk '{print $1 * 1000}' "$WORK/batch_json" | median)
DIRECT_RATE=$(median <"$WORK/direct")
errors=$(cat "$WORK"/batch "$WORK"/batch_json | awk '{s += $4} END {print s + 0}')
[ "$errors" -eq 0 ] || { echo "bench-serving: mlplane answered $errors batch requests with an error status" >&2; exit 1; }
echo "  batch of 1000 rows, wrk $BC connections; like with like: the server's $(nproc) worker threads against $(nproc) direct"
echo "  threads, each one in-place predict of the same rows with nthread=1 (the server's figure also pays HTTP and wrk's CPU):"
echo "    binary tensor data: mlplane $BATCH rows/s ($(col batch 1) req/s, p50 $(col batch 2) ms)"
echo "    JSON:               mlplane $BATCH_JSON rows/s ($(col batch_json 1) req/s, p50 $(col batch_json 2) ms)"
echo "    XGBoost C API directly: $DIRECT_RATE rows/s"

# ---- for information: the single-row request through --replicas 2 at 64 connections ----
"$MLPLANE" serve "$MODEL" --listen 127.0.0.1:0 --replicas 2 >"$WORK/router.out" 2>"$WORK/router.err" &
ROUTER_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/router.out" 2>/dev/null && break; sleep 0.05; done
RBASE=$(sed -n 's/^mlplane serve listening on \(http:[^ ]*\) .*/\1/p' "$WORK/router.out")
[ -n "$RBASE" ] || { echo "bench-serving: mlplane serve --replicas 2 did not start: $(cat "$WORK/router.err")" >&2; exit 1; }
for _ in $(seq 200); do
  [ "$(curl -sf "$RBASE/admin/replicas" | sed -n 's/.*"ready":\([0-9]*\).*/\1/p')" = 2 ] && break; sleep 0.05
done
RURL="$RBASE/v2/models/breast-cancer/infer"
curl -sf -o /dev/null -XPOST -H 'Content-Type: application/json' --data-binary "$REQ" "$RURL" ||
  { echo "bench-serving: the router refused the peers' request" >&2; exit 1; }
wrk -t2 -c64 -d2s -s "$LUA" "$RURL" >/dev/null # warm-up
for r in $(seq "$ROUNDS"); do wrk_run replicas2_c64 2 64 "$RURL" "$LUA"; done
echo "  c=64 through --replicas 2 (router + 2 worker processes): $(col replicas2_c64 1) req/s" \
     "p50 $(col replicas2_c64 2) ms p99 $(col replicas2_c64 3) ms"
rerrors=$(awk '{s += $4} END {print s + 0}' "$WORK/replicas2_c64")
[ "$rerrors" -eq 0 ] || { echo "bench-serving: the router answered $rerrors requests with an error status" >&2; exit 1; }

# ---- (d) inference with and without a token, through Deployments of one server ----
AH="$WORK/auth-home"
mkdir -p "$AH"
cat >"$WORK/auth.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: bench-register}
spec:
  steps:
    - name: copy
      command: [cp, "{{inputs.model}}", model.json]
      inputs: [{name: model, path: $MODEL}]
      outputs: [{name: model, path: model.json}]
      register: {model: bc, artifact: model}
YAML
"$MLPLANE" --home "$AH" run "$WORK/auth.yaml" >/dev/null
cat >"$WORK/auth-deploy.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: pub, namespace: default}
spec:
  model: {name: bc, version: 1}
---
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: tok, namespace: default}
spec:
  model: {name: bc, version: 1}
  auth: {inference: token}
---
apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: bench-viewer, namespace: default}
roleRef: {kind: ClusterRole, name: viewer}
subjects: [{kind: User, name: bench}]
YAML
"$MLPLANE" --home "$AH" apply -f "$WORK/auth-deploy.yaml" >/dev/null
TOKEN=$("$MLPLANE" --home "$AH" token create --user bench --namespace default 2>/dev/null | head -1)
"$MLPLANE" server --home "$AH" --listen 127.0.0.1:0 --auth >"$WORK/auth-server.out" 2>"$WORK/auth-server.err" &
AUTH_PID=$!
dep_url() { "$MLPLANE" --home "$AH" get deployments -o json | jq -r --arg n "$1" '.[] | select(.deployment == $n) | .url // empty'; }
PUB=; TOK=
for _ in $(seq 600); do
  PUB=$(dep_url pub); TOK=$(dep_url tok)
  [ -n "$PUB" ] && [ -n "$TOK" ] && curl -sf "$PUB/v2/health/ready" >/dev/null && curl -sf "$TOK/v2/health/ready" >/dev/null && break
  sleep 0.1
done
[ -n "$PUB" ] && [ -n "$TOK" ] || { echo "bench-serving: the Deployments under --auth did not start: $(cat "$WORK/auth-server.err")" >&2; exit 1; }
PUB="$PUB/v2/models/pub/infer"; TOK="$TOK/v2/models/tok/infer"
{ cat "$LUA"; echo "wrk.headers[\"Authorization\"] = \"Bearer $TOKEN\""; } >"$WORK/token.lua"
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' --data-binary "$REQ" "$TOK")
[ "$code" = 401 ] || { echo "bench-serving: the token Deployment answered $code without a token" >&2; exit 1; }
curl -sf -o /dev/null -XPOST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary "$REQ" "$TOK" ||
  { echo "bench-serving: the token Deployment refused the viewer's token" >&2; exit 1; }
wrk -t2 -c16 -d2s -s "$LUA" "$PUB" >/dev/null # warm-up
wrk -t2 -c16 -d2s -s "$WORK/token.lua" "$TOK" >/dev/null
for r in $(seq "$ROUNDS"); do
  if ((r % 2)); then
    wrk_run pub_c16 2 16 "$PUB" "$LUA"; wrk_run tok_c16 2 16 "$TOK" "$WORK/token.lua"
  else
    wrk_run tok_c16 2 16 "$TOK" "$WORK/token.lua"; wrk_run pub_c16 2 16 "$PUB" "$LUA"
  fi
done
kill -TERM "$AUTH_PID" 2>/dev/null || true; wait "$AUTH_PID" 2>/dev/null || true; AUTH_PID=
aerrors=$(cat "$WORK/pub_c16" "$WORK/tok_c16" | awk '{s += $4} END {print s + 0}')
[ "$aerrors" -eq 0 ] || { echo "bench-serving: the Deployments answered $aerrors requests with an error status" >&2; exit 1; }
echo "  c=16 through Deployments of mlplane server --auth: public $(col pub_c16 1) req/s p99 $(col pub_c16 3) ms;" \
     "with a viewer's token $(col tok_c16 1) req/s p99 $(col tok_c16 3) ms"
awk -v p="$(col pub_c16 1)" -v t="$(col tok_c16 1)" 'BEGIN {
  pct = (p - t) / p * 100;
  printf "BENCH serve_deploy_public_rps_c16 %.0f req/s target > 0 ok\n", p;
  printf "BENCH serve_deploy_token_rps_c16 %.0f req/s target >= %.0f %s\n", t, 0.95 * p, (t >= 0.95 * p) ? "ok" : "SHORT";
  printf "BENCH auth_overhead_infer_c16 %.1f %% target <= 5 %s\n", pct, (pct <= 5) ? "ok" : "SHORT";
}'

awk -v s1="$(col serve_c1 1)" -v s16="$(col serve_c16 1)" -v s64="$(col serve_c64 1)" \
    -v n1="$(col nginx_c1 1)" -v n16="$(col nginx_c16 1)" -v n64="$(col nginx_c64 1)" \
    -v sp50_1="$(col serve_c1 2)" -v sp99_1="$(col serve_c1 3)" -v np50_1="$(col nginx_c1 2)" -v np99_1="$(col nginx_c1 3)" \
    -v sp50_16="$(col serve_c16 2)" -v sp99_16="$(col serve_c16 3)" -v np50_16="$(col nginx_c16 2)" -v np99_16="$(col nginx_c16 3)" \
    -v sp50_64="$(col serve_c64 2)" -v sp99_64="$(col serve_c64 3)" -v np50_64="$(col nginx_c64 2)" -v np99_64="$(col nginx_c64 3)" \
    -v b="$BATCH" -v bj="$BATCH_JSON" -v d="$DIRECT_RATE" 'BEGIN {
  printf "BENCH serve_rps_c1 %.0f req/s target > 0 ok\n", s1;
  printf "BENCH serve_rps_c16 %.0f req/s target > 0 ok\n", s16;
  printf "BENCH serve_rps_c64 %.0f req/s target >= %.0f %s\n", s64, 0.5 * n64, (s64 >= 0.5 * n64) ? "ok" : "SHORT";
  printf "BENCH serve_rps_ratio_c64 %.2f x target >= 0.50 %s\n", s64 / n64, (s64 / n64 >= 0.5) ? "ok" : "SHORT";
  printf "BENCH serve_p50_c1 %.3f ms target > 0 ok\n", sp50_1;
  printf "BENCH serve_p99_c1 %.3f ms target > 0 ok\n", sp99_1;
  printf "BENCH serve_p50_c16 %.3f ms target > 0 ok\n", sp50_16;
  printf "BENCH serve_p99_c16 %.3f ms target <= %.3f %s\n", sp99_16, 2 * np99_16, (sp99_16 <= 2 * np99_16) ? "ok" : "SHORT";
  printf "BENCH serve_p50_c64 %.3f ms target > 0 ok\n", sp50_64;
  printf "BENCH serve_p99_c64 %.3f ms target > 0 ok\n", sp99_64;
  printf "BENCH nginx_rps_c1 %.0f req/s target > 0 ok\n", n1;
  printf "BENCH nginx_rps_c16 %.0f req/s target > 0 ok\n", n16;
  printf "BENCH nginx_rps_c64 %.0f req/s target > 0 ok\n", n64;
  printf "BENCH nginx_p50_c1 %.3f ms target > 0 ok\n", np50_1;
  printf "BENCH nginx_p99_c1 %.3f ms target > 0 ok\n", np99_1;
  printf "BENCH nginx_p50_c16 %.3f ms target > 0 ok\n", np50_16;
  printf "BENCH nginx_p99_c16 %.3f ms target > 0 ok\n", np99_16;
  printf "BENCH nginx_p50_c64 %.3f ms target > 0 ok\n", np50_64;
  printf "BENCH nginx_p99_c64 %.3f ms target > 0 ok\n", np99_64;
  printf "BENCH serve_batch_rows_per_s %.0f rows/s target >= %.0f %s\n", b, 0.8 * d, (b >= 0.8 * d) ? "ok" : "SHORT";
  printf "BENCH serve_batch_json_rows_per_s %.0f rows/s target > 0 ok\n", bj;
  printf "BENCH direct_batch_rows_per_s %.0f rows/s target > 0 ok\n", d;
  printf "BENCH serve_batch_ratio %.2f x target >= 0.80 %s\n", b / d, (b / d >= 0.8) ? "ok" : "SHORT";
}'
printf 'BENCH serve_replicas2_rps_c64 %.0f req/s target > 0 ok\n' "$(col replicas2_c64 1)"
