#!/bin/bash
# The loop end to end with real processes (examples/drift/demo.sh, the documented
# example): a request log -> drift -> a retraining run -> a registered version ->
# a canary serving it -> promotion; then the cooldown holding: drift found again
# within actions.cooldownSeconds starts no retraining.
. "$(dirname "$0")/lib.sh"

out=$("$MLPLANE_SRC/examples/drift/demo.sh" "$MLPLANE" 2>&1) || fail "demo failed: $out"
for want in "no drift: 0 of 4 columns drifted" "drift: 4 of 4 columns drifted" "registered model bc-drift version 2" \
  "canary: deployment bc: version 2 at 50% of the requests" "promoted: deployment bc now serves version 2" \
  "the loop closed"; do
  assert_contains "$out" "$want" "the demo says"
done
ok "the demo closes the loop: drift, retraining, version 2, canary, promotion"

d=$(mlp describe monitor bc-drift -o json)
types=$(jq -r '[.events[] | .type] | join(",")' <<<"$d")
for t in DriftDetected RetrainSubmitted ModelRetrained CanaryStarted CanaryPromoted DriftResolved; do
  assert_contains ",$types," ",$t," "event $t"
done
assert_eq "$(jq -r '.events[] | select(.type == "RetrainSubmitted") | .count' <<<"$d")" "1" "one retraining"
run=$(jq -r '.events[] | select(.type == "RetrainSubmitted") | .message' <<<"$d" | awk '{ print $2 }')
assert_eq "$(run_state "$run")" "Succeeded" "the retraining run"
assert_eq "$(mlp get runs -o json | jq -r --arg r "$run" '.[] | select(.id == $r) | .pipeline')" "drift-train" "its pipeline"
assert_eq "$(mlp models get bc-drift -o json | jq -r '[.model_versions[] | .version] | sort | join(",")')" "1,2" "versions"
v2data=$(mlp models get bc-drift -o json | jq -r '.model_versions[] | select(.version == "2") | .tags[] | select(.key == "mlplane.trainingData") | .value')
assert_contains "$v2data" "shifted.csv" "version 2's training data"
spec=$(mlp get deployments -o json | jq -r '.[] | select(.deployment == "bc") | [.tracks[] | "\(.track)=\(.version)"] | join(",")')
assert_eq "$spec" "stable=2" "the Deployment serves version 2 alone"
assert_eq "$(jq -r '.lastCheck | "\(.status) \(.version)"' <<<"$d")" "NoDrift 2" "no drift against version 2's training data"
lin=$(mlp lineage models:/bc-drift/2 -o json) || fail "lineage of version 2"
assert_eq "$(jq -r .run.id <<<"$lin")" "$run" "version 2's lineage names the retraining run"
assert_eq "$(jq -r '.parents[] | select(.via == "retraining by monitor/bc-drift on drift") | "\(.name)/\(.version)"' <<<"$lin")" \
  "bc-drift/1" "its parent: the version the Monitor found drifting"
ok "the retraining run, version 2 (trained on the shifted data, retrained from version 1), the Deployment applied with it, no drift after"

# drift again (rows like the old data, answered by version 2), within the cooldown
LOG="$MLPLANE_HOME/serving/bc/requests.log"
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
awk -F, -v OFS=, -v t="$now" 'NR > 1 && NR % 5 == 0 && ++n <= 100 { NF = 30;
  printf "{\"time\":\"%s\",\"id\":\"x%d\",\"model\":\"bc\",\"version\":\"2\",\"latency_ms\":1,\"inputs\":[[%s]]}\n", t, n, $0 }' \
  "$MLPLANE_SRC/examples/data/breast_cancer.csv" >>"$LOG"
rc=0; mlp monitor check bc-drift >/dev/null || rc=$?
assert_eq "$rc" "1" "drift again"
d=$(mlp describe monitor bc-drift -o json)
assert_contains "$(jq -r '.events[] | select(.type == "RetrainCooldown") | .message' <<<"$d")" \
  "no retraining before" "the cooldown's event"
assert_eq "$(jq -r '.events[] | select(.type == "RetrainSubmitted") | .count' <<<"$d")" "1" "still one retraining"
assert_eq "$(mlp get runs -o json | jq '[.[] | select(.pipeline == "drift-train")] | length')" "2" "no new run"
ok "drift within the cooldown: RetrainCooldown, no second retraining"
[ -z "$(pgrep -f "$MLPLANE_HOME" || true)" ] || fail "the demo left processes behind: $(pgrep -af "$MLPLANE_HOME")"
finish
