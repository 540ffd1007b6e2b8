#!/usr/bin/env bash
# run_labels.sh — a pipeline's metadata.labels are kept with each of its runs:
# `get runs -l` matches them (kubectl's forms), -o json|yaml, describe and the
# REST run object show them, --show-labels adds a LABELS column, locally and
# through --server; a bad label key or value is a diagnostic at FILE:LINE:COL.
source "$(dirname "$0")/lib.sh"

cat > "$T_DIR/a.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata:
  name: pipe-a
  labels: {team: a, mlplane.dev/tier: gold}
spec:
  steps: [{name: s, command: ["true"]}]
YAML
cat > "$T_DIR/b.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata:
  name: pipe-b
  labels: {team: b}
spec:
  params: {team: a}
  steps: [{name: s, command: ["true"]}]
YAML
cat > "$T_DIR/c.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: pipe-c}
spec:
  steps: [{name: s, command: ["true"]}]
YAML
ra=$(mlp run "$T_DIR/a.yaml" | head -1); rb=$(mlp run "$T_DIR/b.yaml" | head -1)
rc=$(mlp run "$T_DIR/c.yaml" | head -1); ra2=$(mlp run "$T_DIR/a.yaml" | head -1)
[ -n "$ra" ] && [ -n "$rb" ] && [ -n "$rc" ] && [ -n "$ra2" ] || fail "runs did not start"

# pipe-b has a param team=a: its label team=b wins
assert_eq "$(mlp get runs -l team=a -o name | tr '\n' ' ')" "run/$ra2 run/$ra " "-l team=a: the runs labelled so"
assert_eq "$(mlp get runs -l team==b -o name)" "run/$rb" "-l key==value"
assert_eq "$(mlp get runs -l 'team!=a' -o name | tr '\n' ' ')" "run/$rc run/$rb " "-l key!=value (also without the key)"
assert_eq "$(mlp get runs -l team -o name | wc -l)" "3" "-l key: the runs with that label"
assert_eq "$(mlp get runs -l '!team' -o name)" "run/$rc" "-l !key: the run without it"
assert_eq "$(mlp get runs -l 'team=a,mlplane.dev/tier=gold' -o name | wc -l)" "2" "-l prefixed key, comma is AND"
assert_eq "$(mlp get runs -l 'team=a,mlplane.dev/tier=silver' 2>&1)" "No resources found." "-l AND matching nothing"
assert_eq "$(mlp get runs -l pipeline=pipe-c -o name)" "run/$rc" "-l still matches a run's fields"
err=$(mlp get runs -l 'team!a' 2>&1) && fail "-l team!a accepted"
assert_contains "$err" "column 1" "a bad requirement names its column"
ok "-l matches the pipeline's labels"

assert_eq "$(mlp get runs -o json | jq -c --arg id "$ra" '.[] | select(.id==$id) | .labels')" \
  '{"team":"a","mlplane.dev/tier":"gold"}' "-o json has labels"
assert_eq "$(mlp get runs -o json | jq -c --arg id "$rc" '.[] | select(.id==$id) | .labels')" '{}' "no labels: {}"
assert_contains "$(mlp get runs -l team=b -o yaml)" "team: b" "-o yaml has labels"
assert_eq "$(mlp describe run "$rb" -o json | jq -c .labels)" '{"team":"b"}' "describe -o json"
assert_contains "$(mlp describe run "$ra")" "Labels:     team=a, mlplane.dev/tier=gold" "describe"
assert_contains "$(mlp describe run "$rc")" "Labels:     <none>" "describe without labels"
out=$(mlp get runs --show-labels)
assert_eq "$(echo "$out" | head -1 | awk '{print $NF}')" "LABELS" "--show-labels: a LABELS column"
assert_contains "$(echo "$out" | grep "^$ra ")" "mlplane.dev/tier=gold,team=a" "--show-labels: k=v by key"
assert_contains "$(echo "$out" | grep "^$rc ")" "<none>" "--show-labels: <none>"
assert_eq "$(mlp get runs --show-labels -l team=b | tail -n +2 | awk '{print $1, $NF}')" "$rb team=b" "--show-labels with -l"
ok "labels in -o json|yaml, describe and --show-labels"

start_server
S=(--server "$SERVER_URL")
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs" | jq -c --arg id "$ra" '.[] | select(.id==$id) | .labels')" \
  '{"team":"a","mlplane.dev/tier":"gold"}' "GET /api/v1/runs has labels"
assert_eq "$(curl -sf "$SERVER_URL/api/v1/runs/$rb" | jq -c .labels)" '{"team":"b"}' "GET /api/v1/runs/ID has labels"
assert_eq "$(mlp "${S[@]}" get runs -l team=a -o name | tr '\n' ' ')" "run/$ra2 run/$ra " "-l through --server"
assert_eq "$(mlp "${S[@]}" get runs -l '!team' -o name)" "run/$rc" "-l !key through --server"
assert_contains "$(mlp "${S[@]}" describe run "$ra")" "Labels:     team=a, mlplane.dev/tier=gold" "describe through --server"
assert_contains "$(mlp "${S[@]}" get runs --show-labels | grep "^$rb ")" "team=b" "--show-labels through --server"
# a run submitted through the server keeps its labels too
rs=$(mlp "${S[@]}" run --detach "$T_DIR/b.yaml" | head -1)
[ -n "$rs" ] || fail "no run id from the server"
wait_for "the submitted run to be recorded" 60 sh -c "'$MLPLANE' get runs -o name | grep -q 'run/$rs'"
assert_eq "$(mlp "${S[@]}" get runs -l team=b -o name | tr '\n' ' ')" "run/$rs run/$rb " "a submitted run's labels"
ok "the same through --server"

# bad labels: a diagnostic at FILE:LINE:COL, nothing run
cat > "$T_DIR/bad.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata:
  name: bad
  labels:
    team: a
    "Team A": x
    tier: -gold
spec:
  steps: [{name: s, command: ["true"]}]
YAML
err=$(mlp run "$T_DIR/bad.yaml" 2>&1) && fail "a bad label key was accepted"
assert_contains "$err" "bad.yaml:7:5" "bad key: its place"
assert_contains "$err" "\"Team A\" is not a valid label key" "bad key: what"
assert_contains "$err" "bad.yaml:8:11" "bad value: its place"
assert_contains "$err" "is not a valid label value" "bad value: what"
err=$(mlp validate "$T_DIR/bad.yaml" 2>&1) && fail "validate accepted a bad label key"
assert_contains "$err" "bad.yaml:7:5" "validate: bad key"
assert_eq "$(mlp get runs -l pipeline=bad 2>&1)" "No resources found." "nothing run"
ok "bad labels: FILE:LINE:COL"

# a store from before labels (v10): its runs have none, new runs have theirs
stop_server "$SERVER_PID" || true
db="$MLPLANE_HOME/mlplane.db"
# (the tables and columns of later versions go too, as a v10 file has none of them)
sqlite3 "$db" "ALTER TABLE runs DROP COLUMN labels_json; DROP TABLE monitor_checks; DROP TABLE monitor_states;
  ALTER TABLE mlflow_experiments DROP COLUMN namespace; ALTER TABLE reg_models DROP COLUMN namespace;
  PRAGMA user_version = 10;" >/dev/null
assert_eq "$(mlp get runs -o json | jq -c --arg id "$ra" '.[] | select(.id==$id) | .labels')" '{}' "an old run: no labels"
v=$(sqlite3 "$db" "PRAGMA user_version")
assert_eq "$(( v >= 11 ))" "1" "migrated past v10 (to v$v)"
rn=$(mlp run "$T_DIR/a.yaml" | head -1)
assert_eq "$(mlp get runs -l mlplane.dev/tier=gold -o name)" "run/$rn" "a new run's labels after the migration"
ok "an older store gains labels for new runs"
finish
