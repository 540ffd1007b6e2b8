#!/bin/bash
# Many detached runs submitted at once while the store's write lock is scarce
# (MLPLANE_BUSY_TIMEOUT_MS=20, so writers run past the busy timeout all the time,
# as they do with the default 10 s on a heavily loaded machine): every run whose
# id was printed finishes, and a submit that gives up prints why and records
# nothing. Before the fix an acknowledged run was handed from the submitting
# process to the background one with one more write, which could fail after the
# id was printed, and the engine's first state change gave up on a busy lock:
# such runs stayed Interrupted.
. "$(dirname "$0")/lib.sh"

N=${RUN_CONTENTION_N:-150}
cat > "$T_DIR/job.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: trivial}
spec:
  steps:
    - {name: job, command: ["true"]}
YAML

mkdir -p "$T_DIR/sub"
for i in $(seq 1 "$N"); do
  ( rc=0
    MLPLANE_BUSY_TIMEOUT_MS=20 "$MLPLANE" run --detach "$T_DIR/job.yaml" \
      > "$T_DIR/sub/$i.out" 2> "$T_DIR/sub/$i.err" || rc=$?
    echo "$rc" > "$T_DIR/sub/$i.rc" ) &
done
wait
acked=0 refused=0
: > "$T_DIR/acked"
for i in $(seq 1 "$N"); do
  rc=$(cat "$T_DIR/sub/$i.rc")
  if [ "$rc" = 0 ]; then
    id=$(head -1 "$T_DIR/sub/$i.out")
    case "$id" in trivial-*) ;; *) fail "submit $i exited 0 without a run id: $(cat "$T_DIR/sub/$i.out" "$T_DIR/sub/$i.err")";; esac
    echo "$id" >> "$T_DIR/acked"
    acked=$((acked + 1))
  else
    [ ! -s "$T_DIR/sub/$i.out" ] || fail "submit $i failed (exit $rc) after printing a run id: $(cat "$T_DIR/sub/$i.out" "$T_DIR/sub/$i.err")"
    [ -s "$T_DIR/sub/$i.err" ] || fail "submit $i failed (exit $rc) without saying why"
    refused=$((refused + 1))
  fi
done
[ "$acked" -gt 0 ] || fail "no submit was accepted; the first error: $(cat "$T_DIR/sub/1.err")"
ok "$N concurrent detached submits: $acked printed a run id and exited 0, $refused refused with a message"

# settled: whether no run is Pending or Running any more
settled() { mlp get runs -o json | jq -e '[.[] | select(.state == "Pending" or .state == "Running")] | length == 0'; }
wait_for "every run to end" 240 settled
mlp get runs -o json > "$T_DIR/runs.json"
bad=$(jq -r '.[] | select(.state != "Succeeded") | "\(.id) \(.state)"' "$T_DIR/runs.json")
if [ -n "$bad" ]; then
  for id in $(echo "$bad" | awk '{print $1}' | head -3); do
    echo "--- $id: events"; mlp describe run "$id" -o json | jq -r '.events[] | "\(.type) \(.message // "")"'
    echo "--- $id: engine.log"; cat "$MLPLANE_HOME/runs/$id/engine.log" 2>/dev/null || true
  done
  fail "runs that did not succeed: $(echo "$bad" | awk '{print $2}' | sort | uniq -c | tr '\n' ' ')"
fi
assert_eq "$(jq -r '.[].id' "$T_DIR/runs.json" | sort | tr '\n' ' ')" "$(sort "$T_DIR/acked" | tr '\n' ' ')" \
  "the runs recorded are the runs acknowledged"
ok "every acknowledged run succeeded ($acked), and nothing was recorded for a refused submit"

finish
