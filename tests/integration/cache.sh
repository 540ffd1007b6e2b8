#!/bin/bash
# cache: true skips a step whose command, env, params and input contents match an
# earlier success, reusing its outputs; any change is a miss.
. "$(dirname "$0")/lib.sh"

echo "a,b" > "$T_DIR/data.csv"
cat > "$T_DIR/p.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: cached}
spec:
  params: {factor: "2"}
  steps:
    - name: prep
      cache: true
      inputs: [{name: data, path: data.csv}]
      script: |
        echo run >> "$T_DIR/prep.count"
        cat "{{inputs.data}}" > out.txt
        echo '{"rows": 1}' > metrics.json
      outputs: [{name: out, path: out.txt}]
    - name: use
      cache: true
      script: |
        echo run >> "$T_DIR/use.count"
        cat "{{steps.prep.outputs.out}}" > final.txt
      outputs: [{name: final, path: final.txt}]
    - name: uncached
      command: [sh, -c, 'echo run >> "$T_DIR/uncached.count"']
YAML
r1=$(mlp run "$T_DIR/p.yaml" | head -1)
assert_eq "$(run_state "$r1")" "Succeeded" "first run"
r2=$(mlp run "$T_DIR/p.yaml" | head -1)
assert_eq "$(run_state "$r2")" "Succeeded" "second run"
assert_eq "$(step_field "$r2" prep state)" "Cached" "prep cache hit"
assert_eq "$(step_field "$r2" use state)" "Cached" "use cache hit"
assert_eq "$(step_field "$r2" prep cached_from)" "$r1" "reuses the first run's outputs"
assert_eq "$(wc -l < "$T_DIR/prep.count")" "1" "prep ran once"
assert_eq "$(wc -l < "$T_DIR/uncached.count")" "2" "uncached step ran both times"
assert_eq "$(cat "$(step_field "$r2" use outputs_dir)/final.txt")" "a,b" "reused outputs are there"
mlp get metrics "$r2" -o json | jq -e '.[] | select(.key=="rows")' >/dev/null || fail "metrics carried to the cached run"
ok "unchanged steps are Cached with their outputs and metrics"

r3=$(mlp run "$T_DIR/p.yaml" -p factor=3 | head -1)
assert_eq "$(step_field "$r3" prep state)" "Succeeded" "param change is a miss"
ok "a param change is a miss"

r4=$(mlp run "$T_DIR/p.yaml" -p factor=3 | head -1)
assert_eq "$(step_field "$r4" prep state)" "Cached" "same params hit again"
echo "c,d" > "$T_DIR/data.csv"
r5=$(mlp run "$T_DIR/p.yaml" -p factor=3 | head -1)
assert_eq "$(step_field "$r5" prep state)" "Succeeded" "input content change is a miss"
assert_eq "$(step_field "$r5" use state)" "Succeeded" "downstream of changed output is a miss"
assert_eq "$(cat "$(step_field "$r5" use outputs_dir)/final.txt")" "c,d" "new content flowed through"
ok "an input content change is a miss, and so is everything downstream"

# outputs of the cached run deleted: the cache entry is not usable, the step runs
rm -rf "$(step_field "$r5" prep outputs_dir)"
r6=$(mlp run "$T_DIR/p.yaml" -p factor=3 | head -1)
assert_eq "$(step_field "$r6" prep state)" "Succeeded" "vanished outputs force a rerun"
ok "a cache entry whose outputs are gone is not used"
finish
