#!/usr/bin/env bash
# get_habits.sh — kubectl habits of `mlplane get`: short names, -l selectors,
# --limit, -o name, -o jsonpath, "No resources found." and --watch, locally and
# through --server.
source "$(dirname "$0")/lib.sh"

out=$(mlp get runs 2>"$T_DIR/err")
assert_eq "$out" "" "empty list prints no lone header"
assert_eq "$(cat "$T_DIR/err")" "No resources found." "empty list says so on stderr"
mlp get runs -o name >/dev/null 2>&1 || fail "empty list exits 0"
ok "No resources found."

for p in a b c; do
  cat > "$T_DIR/$p.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: pipe-$p}
spec:
  params: {lr: "0.$p"}
  steps: [{name: s, command: ["true"]}]
YAML
done
ra=$(mlp run "$T_DIR/a.yaml" | head -1); rb=$(mlp run "$T_DIR/b.yaml" | head -1); rc=$(mlp run "$T_DIR/c.yaml" | head -1)
[ -n "$ra" ] && [ -n "$rc" ] || fail "runs did not start"

assert_eq "$(mlp get runs -o name | tr '\n' ' ')" "run/$rc run/$rb run/$ra " "-o name, most recent first"
assert_eq "$(mlp get runs --limit 2 -o name | tr '\n' ' ')" "run/$rc run/$rb " "--limit keeps the most recent"
assert_eq "$(mlp get runs --limit 1 | wc -l)" "2" "--limit on the table: header and one row"
assert_eq "$(mlp get runs -l pipeline=nope -o json)" "[]" "-o json of nothing is an empty list"
ok "-o name and --limit"

assert_eq "$(mlp get runs -l pipeline=pipe-b -o name)" "run/$rb" "-l field=value"
assert_eq "$(mlp get runs -l 'pipeline!=pipe-b,state=Succeeded' -o name | tr '\n' ' ')" "run/$rc run/$ra " "-l != and comma"
assert_eq "$(mlp get runs -l lr=0.a -o name)" "run/$ra" "-l matches a run's params"
out=$(mlp get runs -l pipeline=nope 2>&1); assert_eq "$out" "No resources found." "-l matching nothing"
err=$(mlp get runs -l '=x' 2>&1) && fail "bad selector accepted"
assert_contains "$err" "column 1" "bad selector names the column"
ok "-l selectors"

assert_eq "$(mlp get runs -o 'jsonpath={.items[*].id}')" "$rc $rb $ra" "jsonpath items[*]"
assert_eq "$(mlp get runs -o 'jsonpath={range .items[*]}{.pipeline}{"\n"}{end}' | tr '\n' ' ')" "pipe-c pipe-b pipe-a " "jsonpath range"
assert_eq "$(mlp get runs -o 'jsonpath={[0].params.lr}')" "0.c" "jsonpath index and fields"
err=$(mlp get runs -o 'jsonpath={.items[x]}' 2>&1) && fail "bad jsonpath accepted"
assert_contains "$err" "column 9" "bad jsonpath names the column"
err=$(mlp get runs -o 'jsonpath={range .items[*]}{.id}' 2>&1) && fail "range without end accepted"
assert_contains "$err" "{end}" "range without end"
ok "-o jsonpath"

cat > "$T_DIR/cq.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: ResourceFlavor
metadata: {name: default}
---
apiVersion: mlplane.dev/v1
kind: ClusterQueue
metadata: {name: team-a, labels: {team: a}}
spec: {resourceGroups: [{coveredResources: [cpu], flavors: [{name: default, resources: [{name: cpu, nominalQuota: 4}]}]}]}
---
apiVersion: mlplane.dev/v1
kind: ClusterQueue
metadata: {name: team-b, labels: {team: b}}
spec: {resourceGroups: [{coveredResources: [cpu], flavors: [{name: default, resources: [{name: cpu, nominalQuota: 4}]}]}]}
YAML
mlp apply -f "$T_DIR/cq.yaml" >/dev/null || fail "apply cluster queues"
assert_eq "$(mlp get cq -o name | tr '\n' ' ')" "clusterqueue/team-a clusterqueue/team-b " "cq short name"
assert_eq "$(mlp get clusterqueue -l team=b -o name)" "clusterqueue/team-b" "-l matches metadata.labels"
assert_eq "$(mlp get rf -o name)" "resourceflavor/default" "rf short name"
assert_contains "$(mlp get pc -o name)" "priorityclass/mlplane-serving" "pc short name"
mlp get lq >/dev/null 2>&1 || fail "lq short name"
mlp get deploy >/dev/null 2>&1 || fail "deploy short name"
assert_eq "$(mlp get deploy 2>&1)" "No resources found." "no deployments"
ok "short and singular names"

# --watch: the header once, then a row whenever a run changes
mlp get runs -w -l pipeline=slow >"$T_DIR/watch.out" 2>"$T_DIR/watch.err" &
WATCH=$!
wait_for "watch says none" 60 grep -q "No resources found" "$T_DIR/watch.err"
cat > "$T_DIR/slow.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: slow}
spec:
  steps: [{name: s, script: 'while [ ! -f "$T_DIR/go" ]; do sleep 0.1; done'}]
YAML
mlp run "$T_DIR/slow.yaml" >"$T_DIR/slow.out" 2>&1 &
RUNPID=$!
wait_for "watch shows Running" 60 grep -q " Running " "$T_DIR/watch.out"
touch "$T_DIR/go"
wait $RUNPID || fail "slow run failed"
wait_for "watch shows Succeeded" 60 grep -q " Succeeded " "$T_DIR/watch.out"
kill "$WATCH"; wait "$WATCH" 2>/dev/null || true
assert_eq "$(grep -c '^RUN ' "$T_DIR/watch.out")" "1" "header printed once"
ok "--watch prints changed rows"

# get nodes' notes (its GPUs, or why it has none) come after the table, with -l, --limit and -w too
nogpu() { MLPLANE_NVML_LIBRARY=libnvidia-ml-absent.so.1 "$MLPLANE" "$@"; }
plain=$(nogpu get nodes)
assert_eq "$(echo "$plain" | head -1 | cut -c1-4)" "NAME" "get nodes: the table first"
assert_contains "$(echo "$plain" | tail -1)" "Note: no GPUs:" "get nodes: the note last"
for flags in "--limit 5" "-l name!=nothing"; do
  # shellcheck disable=SC2086
  out=$(nogpu get nodes $flags)
  assert_eq "$out" "$plain" "get nodes $flags: the same table, the note after it"
done
nogpu get nodes -w >"$T_DIR/nodes-watch.out" 2>&1 &
NW=$!
wait_for "get nodes -w prints the note" 60 grep -q "Note: no GPUs:" "$T_DIR/nodes-watch.out"
kill "$NW"; wait "$NW" 2>/dev/null || true
assert_eq "$(head -1 "$T_DIR/nodes-watch.out" | cut -c1-4)" "NAME" "get nodes -w: the header first"
assert_eq "$(grep -n 'Note: no GPUs:' "$T_DIR/nodes-watch.out" | cut -d: -f1)" "$(echo "$plain" | wc -l)" "get nodes -w: the note after the rows, once"
ok "get nodes prints its notes after the table with -l, --limit and -w"

start_server
S=(--server "$SERVER_URL")
assert_eq "$(mlp "${S[@]}" get runs -l pipeline=pipe-b -o name)" "run/$rb" "-l through --server"
assert_eq "$(mlp "${S[@]}" get runs --limit 1 -o 'jsonpath={.items[*].pipeline}')" "slow" "--limit, jsonpath through --server"
assert_eq "$(mlp "${S[@]}" get deploy 2>&1)" "No resources found." "no deployments through --server"
assert_eq "$(mlp "${S[@]}" get runs -l pipeline=nope 2>&1)" "No resources found." "none through --server"
ok "the same through --server"
finish
