#!/bin/bash
# metrics.json as Python's json.dump writes it (NaN, Infinity, -Infinity) keeps
# every metric, in `get metrics` and as MLflow spells them; a file that is not
# JSON at all gives a MetricsInvalid event naming FILE:LINE:COL and keeps its
# whole lines. Two steps' metrics of one name stay apart in MLflow (STEP/KEY).
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: values}
spec:
  steps:
    - name: a
      script: |
        printf '{"acc": 0.5, "loss": NaN, "up": Infinity, "down": -Infinity, "h": [1, NaN], "s": "NaN-ish Infinity"}' > metrics.json
    - name: b
      script: |
        printf '{\n  "acc": 0.75,\n  "loss": 0.25 0.3,\n  "f1": 0.5\n}\n' > metrics.json
YAML
r=$(mlp run "$T_DIR/p.yaml" | head -1)
assert_eq "$(run_state "$r")" "Succeeded" "run"
m=$(mlp get metrics "$r" -o json)
v() { echo "$m" | jq -r --arg s "$1" --arg k "$2" '.[] | select(.step==$s and .key==$k) | .value'; }
assert_eq "$(v a acc)" "0.5" "acc next to NaN"
assert_eq "$(v a loss)" "NaN" "NaN"
assert_eq "$(v a up)" "Infinity" "Infinity"
assert_eq "$(v a down)" "-Infinity" "-Infinity"
assert_eq "$(v a h)" "NaN" "history's last"
t=$(mlp get metrics "$r")
assert_contains "$t" "NaN" "table shows NaN"
assert_contains "$t" "-Infinity" "table shows -Infinity"
ok "NaN and +-Infinity are kept and shown"

assert_eq "$(v b acc)" "0.75" "whole line before the error kept"
assert_eq "$(v b f1)" "0.5" "whole line after the error kept"
d=$(mlp describe run "$r")
assert_contains "$d" "MetricsInvalid" "event"
assert_contains "$d" "metrics.json:3:" "event names the line"
ok "invalid metrics.json: a MetricsInvalid event with FILE:LINE:COL, whole lines kept"

start_server
api="$SERVER_URL/api/2.0/mlflow"
h=$(curl -sf "$api/metrics/get-history?run_id=$r&metric_key=a/h")
assert_contains "$(echo "$h" | jq -c '[.metrics[] | .value]')" '"NaN"' "MLflow history spells NaN"
run=$(curl -sf "$api/runs/get?run_id=$r")
assert_eq "$(echo "$run" | jq -r '.run.data.metrics[] | select(.key=="up") | .value')" "Infinity" "MLflow Infinity"
assert_eq "$(echo "$run" | jq -r '.run.data.metrics[] | select(.key=="down") | .value')" "-Infinity" "MLflow -Infinity"
ok "the MLflow REST API spells them NaN, Infinity, -Infinity"

# Steps a and b both log acc: each is a series of its own (STEP/KEY) on the
# pipeline's run, and the run's summary acc is one of their last values.
assert_eq "$(echo "$run" | jq -r '.run.data.metrics[] | select(.key=="a/acc") | .value')" "0.5" "a/acc"
assert_eq "$(echo "$run" | jq -r '.run.data.metrics[] | select(.key=="b/acc") | .value')" "0.75" "b/acc"
ha=$(curl -sf "$api/metrics/get-history?run_id=$r&metric_key=a/acc")
assert_eq "$(echo "$ha" | jq -c '[.metrics[] | .value]')" "[0.5]" "a/acc's history is a's alone"
sum=$(echo "$run" | jq -r '.run.data.metrics[] | select(.key=="acc") | .value')
[ "$sum" = 0.5 ] || [ "$sum" = 0.75 ] || fail "summary acc: $sum"
ok "two steps' acc stay apart as a/acc and b/acc; the run keeps a summary acc"
finish
