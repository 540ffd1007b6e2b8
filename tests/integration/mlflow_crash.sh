#!/bin/bash
# SIGKILL of the tracking server during a stream of log-batch calls loses nothing
# that was acknowledged: after a restart on the same home, every point of every
# batch that got a 200 is in the metric's history, and the store is intact.
. "$(dirname "$0")/lib.sh"

start_server
api="$SERVER_URL/api/2.0/mlflow"
exp=$(curl -sf -X POST "$api/experiments/create" -d '{"name":"crash"}' | jq -r .experiment_id)
run=$(curl -sf -X POST "$api/runs/create" -d "{\"experiment_id\":\"$exp\"}" | jq -r .run.info.run_id)
[ -n "$run" ] && [ "$run" != null ] || fail "no run"

# the client: batch b holds steps b*100 .. b*100+99; acknowledged batches are listed
client() {
  local b=0
  while [ $b -lt 100000 ]; do
    body=$(awk -v r="$run" -v b=$b 'BEGIN { printf "{\"run_id\":\"%s\",\"metrics\":[", r;
      for (i = 0; i < 100; i++) printf "%s{\"key\":\"loss\",\"value\":%d.5,\"timestamp\":%d,\"step\":%d}",
        (i ? "," : ""), b * 100 + i, 1700000000000 + b, b * 100 + i; printf "]}" }')
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$api/runs/log-batch" -d "$body" || true)
    [ "$code" = 200 ] || break
    echo $b >> "$T_DIR/acked"
    b=$((b + 1))
  done
}
: > "$T_DIR/acked"
client &
cpid=$!
wait_for "some acknowledged batches" 20 sh -c "[ \$(wc -l < '$T_DIR/acked') -ge 20 ]"
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
wait $cpid || true
acked=$(wc -l < "$T_DIR/acked")
ok "server killed with SIGKILL after $acked acknowledged batches"

start_server
api="$SERVER_URL/api/2.0/mlflow"
hist=$(curl -sf "$api/metrics/get-history?run_id=$run&metric_key=loss&max_results=25000")
have=$(echo "$hist" | jq '[.metrics[].step] | unique | length')
missing=$(echo "$hist" | jq --argjson n "$acked" '[.metrics[].step] as $s | [range(0; $n * 100)] - $s | length')
assert_eq "$missing" "0" "acknowledged points missing after the crash"
[ "$have" -ge $((acked * 100)) ] || fail "only $have points for $acked batches"
ok "all $((acked * 100)) acknowledged points survived ($have stored)"

sqlite3 "$MLPLANE_HOME/mlplane.db" "PRAGMA integrity_check" | grep -qx ok || fail "integrity check"
latest=$(curl -sf "$api/runs/get?run_id=$run" | jq '.run.data.metrics[] | select(.key=="loss") | .step')
[ "$latest" -ge $((acked * 100 - 1)) ] || fail "latest value behind the history: $latest"
ok "the store passes integrity_check and the latest value matches the history"
stop_server "$SERVER_PID" || true
finish
