#!/bin/bash
# GET /metrics of a single `mlplane serve MODEL` (no router), over real HTTP,
# with version 1 of model bc registered by a pipeline with `register:`:
#   - Prometheus text format 0.0.4: the Content-Type, every line a HELP, a TYPE
#     or a well-formed sample of a family typed before it, histogram buckets
#     cumulative up to le="+Inf" = _count (and `promtool check metrics` when
#     Prometheus' promtool is installed);
#   - the router's names where they apply: mlplane_serve_requests_total
#     {version,code}, mlplane_serve_request_duration_seconds{version},
#     mlplane_serve_inflight{version}; the same families as a router's;
#   - the counts: requests by code (200, 400, 404), concurrent small requests
#     (answered in batches) all counted, health checks and /metrics not, none
#     left in flight.
. "$(dirname "$0")/lib.sh"

register_bc 3
start_serve models:/bc/1 --listen 127.0.0.1:0
U=$SERVE_URL
infer() { curl -s -o /dev/null -w '%{http_code}\n' -XPOST "$U/v2/models/bc$1/infer" --data-binary "$2"; }

for i in 1 2 3 4 5; do assert_eq "$(infer "" @"$T_DIR/one.json")" 200 "request $i"; done
assert_eq "$(infer "" '{"inputs": 1}')" 400 "a malformed request"
assert_eq "$(infer /versions/9 @"$T_DIR/one.json")" 404 "a version not served"
curl -sf "$U/v2/health/ready" >/dev/null && curl -sf "$U/v2/health/live" >/dev/null || fail "health"
# 40 requests, 8 at a time: several read in one round are predicted in one batch (answered later)
seq 40 | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' -XPOST "$U/v2/models/bc/infer" \
  --data-binary @"$T_DIR/one.json" >"$T_DIR/load.codes"
assert_eq "$(grep -c '^200$' "$T_DIR/load.codes")" 40 "concurrent requests answered 200"

curl -s -D "$T_DIR/metrics.head" -o "$T_DIR/metrics.txt" "$U/metrics" || fail "GET /metrics"
assert_contains "$(tr -d '\r' <"$T_DIR/metrics.head" | head -1)" "200" "GET /metrics status"
assert_contains "$(tr -d '\r' <"$T_DIR/metrics.head")" "Content-Type: text/plain; version=0.0.4" "GET /metrics content type"
M="$T_DIR/metrics.txt"

# --- the format ---
awk '
  /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { help[$3] = 1; next }
  /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/ {
    if (!($3 in help)) { print "TYPE before HELP: " $0; bad = 1 }
    type[$3] = $4; next }
  /^#/ { print "bad comment: " $0; bad = 1; next }
  {
    if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? -?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\+Inf|-Inf|NaN)$/) {
      print "bad sample: " $0; bad = 1; next }
    name = $0; sub(/[{ ].*/, "", name)
    fam = name
    if (!(fam in type)) sub(/_(bucket|sum|count)$/, "", fam)
    if (!(fam in type)) { print "sample of an untyped family: " $0; bad = 1 }
    else if (fam != name && type[fam] != "histogram") { print "suffix on a " type[fam] ": " $0; bad = 1 }
  }
  END { exit bad }' "$M" || fail "not Prometheus text format: $(cat "$M")"
# histogram: cumulative buckets, the last le="+Inf", equal to _count
awk -v m=mlplane_serve_request_duration_seconds '
  index($0, m "_bucket{") == 1 { v = $NF + 0; if (v < last) bad = 1; last = v; le = $0 }
  index($0, m "_count{") == 1 { count = $NF + 0 }
  END { if (bad || le !~ /le="\+Inf"/ || last != count) { print "bad histogram: last " last ", count " count; exit 1 } }' "$M" ||
  fail "the latency histogram: $(grep request_duration "$M")"
if command -v promtool >/dev/null; then
  promtool check metrics <"$M" || fail "promtool check metrics: $(promtool check metrics <"$M" 2>&1)"
  ok "Prometheus text format (promtool check metrics passes)"
else
  ok "Prometheus text format (promtool is not installed: checked by the test's parser)"
fi

# --- the counts ---
sample() { awk -v s="$1" '$1 == s { print $2 }' "$M"; }
assert_eq "$(sample 'mlplane_serve_requests_total{version="1",code="200"}')" 45 "requests answered 200"
assert_eq "$(sample 'mlplane_serve_requests_total{version="1",code="400"}')" 1 "requests answered 400"
assert_eq "$(sample 'mlplane_serve_requests_total{version="1",code="404"}')" 1 "requests answered 404"
assert_eq "$(sample 'mlplane_serve_request_duration_seconds_count{version="1"}')" 47 "requests timed"
assert_eq "$(sample 'mlplane_serve_inflight{version="1"}')" 0 "requests in flight"
assert_eq "$(sample 'mlplane_serve_ready')" 1 "ready"
[ "$(sample mlplane_serve_batch_requests_total)" -ge 45 ] || fail "batched requests: $(sample mlplane_serve_batch_requests_total)"
ok "counts: 45 answered 200, 1 400, 1 404 (health checks and /metrics not counted), 47 timed, none in flight"

# --- the router's names ---
families() { sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$1" | sort; }
start_serve models:/bc/1 --listen 127.0.0.1:0 --replicas 2
U=$SERVE_URL
assert_eq "$(infer "" @"$T_DIR/one.json")" 200 "a request to the router"
curl -sf "$SERVE_URL/metrics" >"$T_DIR/router.txt" || fail "the router's /metrics"
both=$(comm -12 <(families "$M") <(families "$T_DIR/router.txt") | paste -sd' ' -)
assert_eq "$both" "mlplane_build_info mlplane_serve_inflight mlplane_serve_request_duration_seconds mlplane_serve_requests_total" \
  "families a single server and a router share"
for f in requests_total request_duration_seconds_bucket inflight; do
  grep -q "^mlplane_serve_${f}{version=\"1\"" "$T_DIR/router.txt" || fail "the router has no mlplane_serve_$f{version=...}"
done
ok "the router's names and labels: $both"

finish
