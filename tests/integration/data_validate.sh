#!/bin/bash
# Data validation, on real CSV files:
#   - `mlplane data validate FILE --expect FILE`: exit 0 when every expectation
#     holds, 1 with the report (expected, observed, example rows) when some are
#     broken, -o json|yaml; 2 for a malformed CSV (named with its row and line),
#     a bad expectations file (FILE:LINE:COL) or bad usage; nothing stored;
#   - a step whose input has `validate:` and breaks it fails without running
#     (its command would create a file: it does not exist), with no retry, the
#     event DataValidationFailed, the report in `get steps -o json`, `describe
#     run` and the step's log, and its dependents skipped; a passing input lets
#     it run; `validate: {expect: FILE}` reads the expectations from a file;
#   - spec errors of `validate:` through `mlplane validate`, with positions;
#   - mlplane_data_validation_failures_total of `mlplane server` counts the failure.
. "$(dirname "$0")/lib.sh"

D=$T_DIR/data
mkdir -p "$D"
cat > "$D/good.csv" <<'CSV'
id,age,state
1,34,CA
2,51,NY
3,27,TX
CSV
cat > "$D/bad.csv" <<'CSV'
id,age,state
1,34,CA
2,-3,NY
3,130,ZZ
3,45,tx
CSV
cat > "$D/expect.yaml" <<'YAML'
rows: {min: 2, max: 1000}
columns:
  id: {type: integer, unique: true}
  age: {type: integer, min: 0, max: 120, maxNullFraction: 0}
  state: {in: [CA, NY, TX], regex: "^[A-Z]{2}$"}
YAML

# ---- the command ----------------------------------------------------------------------
out=$(mlp data validate "$D/good.csv" --expect "$D/expect.yaml")
assert_contains "$out" "good.csv: all 11 expectations hold (3 rows)" "a passing file"
ok "data validate: exit 0 when every expectation holds"

set +e
out=$(mlp data validate "$D/bad.csv" --expect "$D/expect.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 1 "exit status of broken expectations"
assert_contains "$out" "bad.csv: 4 of 11 expectations broken (4 rows)" "the summary"
assert_contains "$out" 'column "age": expect_column_values_to_be_between: expected in [0, 120], observed min -3 < 0, max 130 > 120; 2 rows outside' "between"
assert_contains "$out" "    row 2 (line 3): -3" "an example row with its line"
assert_contains "$out" 'column "id": expect_column_values_to_be_unique' "unique"
assert_contains "$out" "    row 4 (line 5): 3" "the duplicate's row"
assert_contains "$out" 'expect_column_values_to_be_in_set: expected in [CA, NY, TX], observed 2 values not in the set' "in set"
assert_contains "$out" 'expect_column_values_to_match_regex' "regex"
ok "data validate: exit 1 with each broken expectation, observed value and example rows"

set +e
mlp data validate "$D/bad.csv" --expect "$D/expect.yaml" -o json > "$T_DIR/r.json"; rc=$?
set -e
assert_eq "$rc" 1 "exit status with -o json"
assert_eq "$(jq -r .passed "$T_DIR/r.json")" false "passed"
assert_eq "$(jq -r '.failures | length' "$T_DIR/r.json")" 4 "failures"
assert_eq "$(jq -r '.failures[] | select(.column=="age") | .examples | map("\(.row):\(.line):\(.value)") | join(",")' "$T_DIR/r.json")" \
  "2:3:-3,3:4:130" "age's example rows"
assert_eq "$(jq -r '.failures[] | select(.expectation=="expect_column_values_to_be_in_set") | .count' "$T_DIR/r.json")" 2 "count"
set +e
yaml=$(mlp data validate "$D/bad.csv" --expect "$D/expect.yaml" -o yaml); rc=$?
set -e
assert_eq "$rc" 1 "exit status with -o yaml"
assert_contains "$yaml" "expectation: expect_column_values_to_be_unique" "yaml"
ok "data validate -o json|yaml"

printf 'id,age,state\n1,34,CA\n2,51\n' > "$D/short.csv"
set +e
out=$(mlp data validate "$D/short.csv" --expect "$D/expect.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 2 "exit status of a malformed CSV"
assert_contains "$out" "short.csv: row 2 (line 3): 2 fields, the first line names 3 columns" "file, row and line named"
printf 'columns:\n  age: {type: int}\n  state: {regex: "[A-Z"}\n' > "$D/badx.yaml"
set +e
out=$(mlp data validate "$D/good.csv" --expect "$D/badx.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 2 "exit status of bad expectations"
assert_contains "$out" 'badx.yaml:2:15: field "expectations.columns.age.type" must be one of number, integer, string, boolean, got "int"' "type"
assert_contains "$out" 'badx.yaml:3:18: field "expectations.columns.state.regex": "[A-Z" is not a POSIX extended regular expression' "regex"
set +e
mlp data validate "$D/good.csv" >/dev/null 2>&1; rc=$?
mlp data validate "$D/none.csv" --expect "$D/expect.yaml" >/dev/null 2>&1; rc2=$?
set -e
assert_eq "$rc" 2 "no --expect"
assert_eq "$rc2" 2 "a missing CSV"
[ ! -e "$MLPLANE_HOME/mlplane.db" ] || fail "data validate stored something"
ok "data validate: exit 2 for bad input, named with file, row and line or FILE:LINE:COL; nothing stored"

# ---- a step's input ------------------------------------------------------------------
cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: checked}
spec:
  params: {data: data/bad.csv}
  steps:
    - name: train
      inputs:
        - name: raw
          path: "{{params.data}}"
          validate:
            rows: {min: 2}
            columns:
              age: {type: integer, min: 0, max: 120}
              state: {in: [CA, NY, TX]}
      retries: {limit: 2, backoffSeconds: 0}
      script: touch "$MLPLANE_OUTPUTS/../ran-{{run.id}}"
    - name: after
      dependsOn: [train]
      command: ["true"]
YAML
mlp validate "$T_DIR/p.yaml" >/dev/null
set +e
out=$(mlp run "$T_DIR/p.yaml" 2>&1); rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a run whose input breaks its expectations succeeded: $out"
run=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="checked") | .id' | head -1)
assert_eq "$(run_state "$run")" Failed "the run"
[ ! -e "$MLPLANE_HOME/runs/$run/ran-$run" ] || fail "the step's command ran"
assert_eq "$(step_field "$run" train state)" Failed "the step"
assert_eq "$(step_field "$run" train attempts)" 1 "no retry: the data, not the attempt"
assert_eq "$(step_field "$run" after state)" Skipped "its dependent"
msg=$(step_field "$run" train message)
assert_contains "$msg" 'data validation failed for input "raw"' "the message"
assert_contains "$msg" "2 of 6 expectations broken" "the message's count"
assert_contains "$msg" 'column "age": expect_column_values_to_be_between: expected in [0, 120], observed min -3 < 0, max 130 > 120; 2 rows outside (e.g. row 2, line 3: -3)' "the message's first failure"
desc=$(mlp describe run "$run")
assert_contains "$desc" "DataValidationFailed" "the event"
assert_contains "$desc" "row 4 (line 5): tx" "the report's example rows in the log tail"
log=$(mlp logs "$run" train)
assert_contains "$log" 'data validation of input "raw" failed; the step did not run' "the log"
assert_contains "$log" "    row 2 (line 3): -3" "the log's example rows"
ok "a step whose input breaks its expectations fails without running, with the report"

out=$(mlp run "$T_DIR/p.yaml" -p data=data/good.csv 2>&1) || fail "a passing input: $out"
run2=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="checked" and .state=="Succeeded") | .id' | head -1)
[ -e "$MLPLANE_HOME/runs/$run2/ran-$run2" ] || fail "the step did not run with a passing input"
ok "a passing input lets the step run"

cat > "$T_DIR/f.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: fromfile}
spec:
  params: {data: data/good.csv}
  steps:
    - name: use
      inputs: [{name: raw, path: "{{params.data}}", validate: {expect: data/expect.yaml}}]
      command: ["true"]
YAML
mlp validate "$T_DIR/f.yaml" >/dev/null
mlp run "$T_DIR/f.yaml" >/dev/null 2>&1 || fail "validate: {expect: FILE} with a passing input"
set +e
mlp run "$T_DIR/f.yaml" -p data=data/bad.csv >/dev/null 2>&1; rc=$?
mlp run "$T_DIR/f.yaml" -p data=data/short.csv >/dev/null 2>&1; rc2=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc2" -ne 0 ] || fail "validate: {expect: FILE} let bad inputs through"
msgs=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="fromfile" and .state=="Failed") | .id' |
  while read -r r; do step_field "$r" use message; done)
assert_contains "$msgs" "4 of 11 expectations broken" "expectations from the file"
assert_contains "$msgs" "short.csv: row 2 (line 3): 2 fields" "a malformed input named with its row"
ok "validate: {expect: FILE}; a malformed input fails the step naming file, row and line"

# ---- spec errors ------------------------------------------------------------------------
cat > "$T_DIR/bad.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: badcheck}
spec:
  steps:
    - name: s
      inputs:
        - name: a
          path: data/good.csv
          validate:
            columns:
              age: {type: integer, mni: 0}
              state: {regex: "(CA"}
        - name: folder
          path: data/
          validate: {rows: {min: 1}}
      command: ["true"]
YAML
cat > "$T_DIR/nofile.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: nofile}
spec:
  steps:
    - name: s
      inputs: [{name: other, path: data/good.csv, validate: {expect: data/badx.yaml}},
               {name: gone, path: data/good.csv, validate: {expect: data/nope.yaml}}]
      command: ["true"]
YAML
set +e
out=$(mlp validate "$T_DIR/bad.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 2 "validate exit status"
assert_contains "$out" 'bad.yaml:12:36: unknown field "mni" in spec.steps[0].inputs[0].validate.columns.age (did you mean "min"?)' "unknown field"
assert_contains "$out" 'bad.yaml:13:30: field "spec.steps[0].inputs[0].validate.columns.state.regex": "(CA" is not a POSIX extended regular expression' "bad regex"
assert_contains "$out" 'bad.yaml:15:17: input "folder" is a folder' "a folder input"
set +e
out=$(mlp validate "$T_DIR/nofile.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" 2 "validate exit status with bad expectations files"
assert_contains "$out" 'data/badx.yaml:2:15: field "expectations.columns.age.type"' "the named file's errors at their place"
assert_contains "$out" 'nofile.yaml:8:61: input "gone" of step "s": expectations file' "a missing expectations file"
set +e
mlp run "$T_DIR/bad.yaml" >/dev/null 2>&1; rc=$?
set -e
assert_eq "$rc" 2 "run of an invalid file"
assert_eq "$(mlp get runs -o json | jq '[.[] | select(.pipeline=="badcheck")] | length')" 0 "nothing stored"
ok "spec errors of validate: with their positions; nothing stored"

# ---- the metric ---------------------------------------------------------------------------
start_server
U=$SERVER_URL
counted() { curl -sf "$U/metrics" | grep -F 'mlplane_data_validation_failures_total{pipeline="checked"} 1' >/dev/null; }
wait_for "the validation failure in /metrics" 60 counted
curl -sf "$U/metrics" | grep -F 'mlplane_data_validation_failures_total{pipeline="fromfile"} 2' >/dev/null ||
  fail "fromfile's failures: $(curl -sf "$U/metrics" | grep validation)"
ok "mlplane_data_validation_failures_total counts the steps data validation failed, by pipeline"
stop_server "$SERVER_PID" || fail "the server did not exit 0 on SIGTERM"
finish
