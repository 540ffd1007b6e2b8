#!/usr/bin/env bash
# gc_retention.sh — a RetentionPolicy (runs 30d, artifacts 20d, logs 7d) and
# `mlplane gc`: runs are aged by moving their end time back in the SQLite file
# (sqlite3 on HOME/mlplane.db: the test's way to age runs; mlplane has no clock to
# set). --dry-run reports and deletes nothing (the home's file list is unchanged);
# gc deletes an expired run whole, another's logs and outputs only, keeps a run a
# registered version came from and a run the step cache points at (the next run
# of that pipeline still hits the cache), never touches a run in progress; a bad
# duration is refused with FILE:LINE:COL.
source "$(dirname "$0")/lib.sh"
DB="$MLPLANE_HOME/mlplane.db"
DAY=86400000
age() { sqlite3 "$DB" "UPDATE runs SET ended_ms = ended_ms - $2 * $DAY WHERE id = '$1';"; }
files() { (cd "$MLPLANE_HOME" && find . -path ./mlplane.db -prune -o -path './mlplane.db-*' -prune -o -print | sort); }

pipeline() { # NAME EXTRA-STEP-FIELDS
  cat >"$T_DIR/$1.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: $1}
spec:
  steps:
    - name: a
      command: [sh, -c, "echo log-line; head -c 20000 /dev/zero > out.bin"]
      outputs:
        - {name: o, path: out.bin}
$2
YAML
}
pipeline plain ""
pipeline reg "      register: {model: m, artifact: o}"
pipeline cached "      cache: true"
old=$(mlp run "$T_DIR/plain.yaml" | head -1)
mid=$(mlp run "$T_DIR/plain.yaml" | head -1)
new=$(mlp run "$T_DIR/plain.yaml" | head -1)
reg=$(mlp run "$T_DIR/reg.yaml" | head -1)
cached=$(mlp run "$T_DIR/cached.yaml" | head -1)
cat >"$T_DIR/slow.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: slow}
spec:
  steps:
    - {name: a, command: [sh, -c, "echo started; exec $NAP 300"]}
YAML
slow=$(mlp run --detach "$T_DIR/slow.yaml")
wait_for "the slow step to run" 30 nap_running
age "$old" 40; age "$mid" 10; age "$reg" 40; age "$cached" 40
sqlite3 "$DB" "UPDATE runs SET created_ms = created_ms - 400 * $DAY, started_ms = started_ms - 400 * $DAY WHERE id = '$slow';"

out=$(mlp gc) || fail "gc without a policy: $out"
assert_contains "$out" "no RetentionPolicy is applied" "without a policy nothing expires"
assert_eq "$(mlp get runs -o json | jq length)" "6" "every run is still there"

cat >"$T_DIR/bad.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: RetentionPolicy
metadata: {name: bad}
spec:
  runs: 30 days
YAML
rc=0; out=$(mlp apply -f "$T_DIR/bad.yaml" 2>&1) || rc=$?
assert_eq "$rc" "2" "a bad duration is a usage error"
assert_contains "$out" "bad.yaml:5:9: spec.runs: \"30 days\" is not a duration" "it says where and what"
cat >"$T_DIR/none.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: RetentionPolicy
metadata: {name: none}
spec: {experiment: plain}
YAML
rc=0; out=$(mlp apply -f "$T_DIR/none.yaml" 2>&1) || rc=$?
assert_eq "$rc" "2" "a policy without a TTL is refused"
assert_contains "$out" "give at least one of spec.runs, spec.logs, spec.artifacts" "it says what to give"
ok "RetentionPolicy errors carry FILE:LINE:COL"

cat >"$T_DIR/policy.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: RetentionPolicy
metadata: {name: team, namespace: default}
spec:
  runs: 30d
  artifacts: 20d
  logs: 7d
YAML
mlp apply -f "$T_DIR/policy.yaml" >/dev/null || fail "apply the policy"
assert_eq "$(mlp get retentionpolicies -o json | jq -c '.[0] | [.name, .namespace, .runsMs, .artifactsMs, .logsMs]')" \
  "[\"team\",\"default\",$((30 * DAY)),$((20 * DAY)),$((7 * DAY))]" "get retentionpolicies"
assert_contains "$(mlp get retention)" "30d" "get retention: the TTLs as durations"
files >"$T_DIR/before"
mlp gc --dry-run -o json >"$T_DIR/dry.json" || fail "gc --dry-run"
files >"$T_DIR/after"
diff "$T_DIR/before" "$T_DIR/after" >/dev/null || fail "gc --dry-run changed files: $(diff "$T_DIR/before" "$T_DIR/after")"
assert_eq "$(mlp get runs -o json | jq length)" "6" "gc --dry-run deleted no run"
assert_eq "$(jq -r '[.deleted[] | "\(.run):\(.what)"] | sort | join(" ")' "$T_DIR/dry.json")" \
  "$(printf '%s\n' "$mid:logs" "$old:run" "$reg:logs" "$cached:logs" | sort | tr '\n' ' ' | sed 's/ $//')" \
  "what it would delete (the logs of kept runs too: logs are no version's nor the cache's)"
assert_eq "$(jq -r --arg r "$reg" '.kept[] | select(.run == $r) | .reason' "$T_DIR/dry.json")" \
  "registered model version m/1 came from it (models:/m/1)" "the registering run is kept"
assert_contains "$(jq -r --arg r "$cached" '.kept[] | select(.run == $r) | .reason' "$T_DIR/dry.json")" \
  "the step cache holds its step a's outputs" "the cached run is kept"
[ "$(jq -r '.totals.bytes' "$T_DIR/dry.json")" -gt 20000 ] || fail "the bytes it would free: $(jq .totals "$T_DIR/dry.json")"
assert_contains "$(mlp gc --dry-run)" "would delete 1 runs" "the dry run's summary"
ok "gc --dry-run reports what expired and deletes nothing"

src=$(artifact_file "$(mlp models get m -o json | jq -r '.model_versions[0].source')")
out=$(mlp gc) || fail "gc: $out"
assert_contains "$out" "deleted 1 runs, " "the summary"
assert_contains "$out" "freed" "the bytes freed"
ids=$(mlp get runs -o json | jq -r '.[].id' | sort | tr '\n' ' ')
assert_not_contains "$ids" "$old" "the run past 30 days is gone"
[ ! -e "$MLPLANE_HOME/runs/$old" ] || fail "its folder is still there"
for r in "$mid" "$new" "$reg" "$cached" "$slow"; do assert_contains "$ids" "$r" "run $r is kept"; done
[ ! -e "$MLPLANE_HOME/runs/$mid/logs" ] || fail "the logs of the run past 7 days are still there"
[ -f "$MLPLANE_HOME/runs/$mid/a/out.bin" ] || fail "the outputs of the run past 7 but not 20 days went"
[ -f "$MLPLANE_HOME/runs/$new/logs/a.log" ] || fail "a new run's log went"
[ -f "$MLPLANE_HOME/runs/$reg/a/out.bin" ] || fail "the registering run's outputs went"
[ -f "$src" ] || fail "the registered version's file went"
[ -f "$MLPLANE_HOME/runs/$cached/a/out.bin" ] || fail "the cached outputs went"
assert_eq "$(run_state "$slow")" "Running" "the run in progress still runs"
nap_running || fail "the run in progress was stopped"
[ -f "$MLPLANE_HOME/runs/$slow/logs/a.log" ] || fail "the run in progress lost its log"
again=$(mlp run "$T_DIR/cached.yaml" | head -1)
assert_eq "$(step_field "$again" a state)" "Cached" "the next run of the cached pipeline hits the cache"
assert_eq "$(step_field "$again" a cached_from)" "$cached" "from the kept run"
ok "gc deletes expired runs, logs and artifacts; keeps what a version or the cache references and a run in progress"

age "$mid" 15
out=$(mlp gc -o json) || fail "gc again"
assert_eq "$(jq -r '[.deleted[] | "\(.run):\(.what)"] | join(" ")' <<<"$out")" "$mid:artifacts" "the outputs past 20 days go"
[ ! -e "$MLPLANE_HOME/runs/$mid/a" ] || fail "its outputs are still there"
mlp describe run "$mid" >/dev/null || fail "its records went with its artifacts"
assert_eq "$(mlp gc -o json | jq '.deleted | length')" "0" "a second gc finds nothing more"
ok "artifacts expire on their own TTL; the run's records stay; gc is idempotent"
cat >"$T_DIR/exp.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: RetentionPolicy
metadata: {name: quick, namespace: default}
spec: {experiment: plain, runs: 20d}
YAML
mlp apply -f "$T_DIR/exp.yaml" >/dev/null || fail "apply the experiment's policy"
sed 's/namespace: default/namespace: team-b/; s/runs: 20d/runs: 1d/' "$T_DIR/exp.yaml" >"$T_DIR/exp-b.yaml"
mlp apply -f "$T_DIR/exp-b.yaml" >/dev/null || fail "apply a policy of the same name in namespace team-b"
assert_eq "$(mlp get retentionpolicies -o json | jq -r '[.[] | select(.name == "quick") | .namespace] | sort | join(",")')" \
  "default,team-b" "policies of one name in two namespaces are two policies"
out=$(mlp gc -o json) || fail "gc with an experiment's policy"
assert_eq "$(jq -r '[.deleted[] | "\(.run):\(.what):\(.policy)"] | join(" ")' <<<"$out")" "$mid:run:quick" \
  "the experiment's policy governs its runs (20d < the namespace's 30d)"
ok "a policy naming an experiment wins over the namespace's for that experiment's runs"
assert_eq "$(mlp delete retentionpolicy quick)" "RetentionPolicy/quick deleted" "delete the experiment's policy"
assert_eq "$(mlp delete retentionpolicy quick -n team-b)" "RetentionPolicy/quick deleted" "delete team-b's"
assert_eq "$(mlp delete retentionpolicy team)" "RetentionPolicy/team deleted" "delete retentionpolicy"
age "$new" 400
assert_eq "$(mlp gc -o json | jq '.deleted | length')" "0" "without a policy nothing expires"
ok "get and delete retentionpolicy"
mlp cancel "$slow" >/dev/null || true
finish
