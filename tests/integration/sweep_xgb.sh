#!/bin/bash
# The sweep example (examples/sweep/pipeline.yaml) end to end on real data: six
# XGBoost trials over eta x max_depth, the one with the best validation AUC wins,
# only its model is evaluated on the test rows (AUC >= 0.95) and registered, and
# a second run takes every trial from the cache and picks the same winner.
. "$(dirname "$0")/lib.sh"

export PATH="$(dirname "$MLPLANE"):$PATH"
cd "$MLPLANE_SRC"
run=$(mlp run examples/sweep/pipeline.yaml | head -1)
assert_eq "$(run_state "$run")" "Succeeded" "sweep example run"
steps=$(mlp get steps "$run" -o json)
assert_eq "$(echo "$steps" | jq '[.[] | select(.name | startswith("train[")) | select(.state=="Succeeded")] | length')" \
  "6" "six trials succeeded"

# The winner is the trial with the highest validation AUC (the first on a tie).
metrics=$(mlp get metrics "$run" -o json)
want=$(echo "$metrics" | jq -r '[.[] | select((.step | startswith("train[")) and .key=="valid-auc")]
  | sort_by(-.value, (.step | ltrimstr("train[") | rtrimstr("]") | tonumber)) | .[0].step')
assert_contains "$(step_field "$run" train message)" "best $want (" "winner"
best_params=$(echo "$steps" | jq -c --arg s "$want" '.[] | select(.name==$s) | .params')
assert_eq "$(echo "$steps" | jq -c '.[] | select(.name=="train") | .params')" "$best_params" "the sweep step's params"
ok "six trials; the best by valid-auc ($want, $best_params) wins"

auc=$(echo "$metrics" | jq -r '.[] | select(.step=="evaluate" and .key=="auc") | .value')
awk -v a="$auc" 'BEGIN { exit !(a >= 0.95) }' || fail "test AUC $auc < 0.95"
best_dir=$(step_field "$run" "$want" outputs_dir)
v=$(mlp models get breast-cancer-sweep -o json)
assert_eq "$(echo "$v" | jq -r '.model_versions | length')" "1" "one version registered (the best trial's)"
src=$(echo "$v" | jq -r '.model_versions[0].source')
cmp -s "$src" "$best_dir/model.json" || fail "the registered model is the best trial's: $src"
ok "evaluate scores the best model on the test rows (AUC $auc); it alone is registered"

run2=$(mlp run examples/sweep/pipeline.yaml | head -1)
steps2=$(mlp get steps "$run2" -o json)
assert_eq "$(echo "$steps2" | jq '[.[] | select(.name | startswith("train[")) | select(.state=="Cached" and .cached_from != null)] | length')" \
  "6" "every trial from the cache"
assert_contains "$(step_field "$run2" train message)" "best $want (" "same winner"
assert_contains "$(step_field "$run2" train message)" "6 trials: 6 succeeded (6 of them cached)" "the tally counts the cached trials"
ok "second run: all trials are cache hits and the same trial wins"
finish
