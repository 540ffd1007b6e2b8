#!/bin/bash
# deploy/prometheus/rules.yml is accepted by `promtool check rules` and passes its unit
# tests (deploy/prometheus/rules_test.yml, `promtool test rules`); the Grafana dashboard
# parses (jq). Without promtool (Debian package prometheus) the rule checks say "skip".
. "$(dirname "$0")/lib.sh"

jq -e '.title == "mlplane" and (.panels | length > 10)' "$MLPLANE_SRC/deploy/grafana/mlplane.json" >/dev/null ||
  fail "deploy/grafana/mlplane.json does not parse"
ok "the dashboard parses"
if ! command -v promtool >/dev/null; then
  echo "skip: promtool is not installed (Debian package prometheus)"
  finish
  exit 0
fi
cd "$MLPLANE_SRC/deploy/prometheus"
out=$(promtool check rules rules.yml 2>&1) || fail "promtool check rules: $out"
assert_contains "$out" "SUCCESS: 6 rules found" "the rules"
ok "promtool check rules accepts the 6 alerting rules"
out=$(promtool test rules rules_test.yml 2>&1) || fail "promtool test rules: $out"
ok "promtool test rules passes"
finish
