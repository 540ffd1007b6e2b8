#!/bin/bash
# The breast-cancer demo end to end: real data, real XGBoost model, AUC >= 0.95,
# the new version served as a Deployment and answering, no process left behind;
# the second run is served from the cache.
. "$(dirname "$0")/lib.sh"

export PATH="$(dirname "$MLPLANE"):$PATH"
out=$("$MLPLANE_SRC/examples/breast-cancer/demo.sh" "$MLPLANE" 2>&1) || fail "demo failed: $out"
assert_contains "$out" "AUC" "demo prints metrics"
run=$(mlp get runs -o json | jq -r '.[0].id')
auc=$(mlp get metrics "$run" -o json | jq -r '.[] | select(.key=="auc") | .value')
awk -v a="$auc" 'BEGIN { exit !(a >= 0.95) }' || fail "test AUC $auc < 0.95"
ok "demo trains a model with test AUC $auc"
assert_contains "$out" '"model_name":"breast-cancer-demo","model_version":"1","id":"demo-1"' "the demo's deployment answers"
[ -z "$(pgrep -f "$MLPLANE_HOME" || true)" ] || fail "the demo left processes behind: $(pgrep -af "$MLPLANE_HOME")"
assert_contains "$out" "registered as breast-cancer version 1" "first run registers v1"
hist=$(mlp get metrics "$run" -o json | jq -r '[.[] | select(.step=="train")] | length')
[ "$hist" -ge 2 ] || fail "train step metrics (logloss history) missing"

out=$("$MLPLANE_SRC/examples/breast-cancer/demo.sh" "$MLPLANE" 2>&1) || fail "second demo failed: $out"
run2=$(mlp get runs -o json | jq -r '.[0].id')
[ "$run2" != "$run" ] || fail "no second run"
skipped=$(mlp get steps "$run2" -o json | jq '[.[] | select(.state=="Cached")] | length')
total=$(mlp get steps "$run2" -o json | jq 'length')
assert_eq "$skipped" "$total" "every unchanged step is a cache hit"
ok "second run: all $total steps Cached"
assert_contains "$out" "registered as breast-cancer version 2" "second run registers v2"
assert_contains "$out" '"model_name":"breast-cancer-demo","model_version":"2"' "the second demo serves version 2"
[ -z "$(pgrep -f "$MLPLANE_HOME" || true)" ] || fail "the second demo left processes behind: $(pgrep -af "$MLPLANE_HOME")"
ok "the model is registered as breast-cancer v1, then v2"
finish
