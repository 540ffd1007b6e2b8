#!/usr/bin/env bash
# cli_backends.sh — the same command on the home and through --server does the
# same thing: delete of a LocalQueue without -n is the one of namespace
# "default" both ways (and through the API without ?namespace=), describe run
# -o json is one JSON, and what works only on the home says so in one sentence.
source "$(dirname "$0")/lib.sh"

cat > "$T_DIR/queues.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: ResourceFlavor
metadata: {name: cpus}
---
apiVersion: mlplane.dev/v1
kind: ClusterQueue
metadata: {name: cq}
spec:
  resourceGroups:
    - coveredResources: [cpu]
      flavors:
        - name: cpus
          resources: [{name: cpu, nominalQuota: 500m}]
YAML
for q in lq-a lq-b lq-c lq-d lq-e; do
  printf 'apiVersion: mlplane.dev/v1\nkind: LocalQueue\nmetadata: {name: %s, namespace: default}\nspec: {clusterQueue: cq}\n' "$q" >> "$T_DIR/lqs.yaml"
  printf -- '---\n' >> "$T_DIR/lqs.yaml"
done
printf 'apiVersion: mlplane.dev/v1\nkind: LocalQueue\nmetadata: {name: lq-t, namespace: team}\nspec: {clusterQueue: cq}\n' >> "$T_DIR/lqs.yaml"
mlp apply -f "$T_DIR/queues.yaml" >/dev/null || fail "apply the queues"
mlp apply -f "$T_DIR/lqs.yaml" >/dev/null || fail "apply the local queues"
lqs() { mlp get localqueues -o json | jq -r '[.[].name] | sort | join(" ")'; }
assert_eq "$(lqs)" "lq-a lq-b lq-c lq-d lq-e lq-t" "the local queues applied"

assert_eq "$(mlp delete localqueue lq-a)" "LocalQueue/lq-a deleted" "local delete without -n"
assert_eq "$(mlp delete lq lq-b -n '')" "LocalQueue/lq-b deleted" "local delete by the short name with an empty -n: namespace default"
start_server
assert_eq "$(mlp --server "$SERVER_URL" delete LQ lq-c)" "LocalQueue/lq-c deleted" "delete through the server by the short name (any case) without -n"
assert_eq "$(curl -s -X DELETE "$SERVER_URL/api/v1/objects/LocalQueue/lq-d" | jq -c .)" '{"kind":"LocalQueue","name":"lq-d"}' \
  "DELETE /api/v1/objects/LocalQueue/NAME without ?namespace="
assert_eq "$(curl -s -X DELETE "$SERVER_URL/api/v1/objects/localqueue/lq-e?namespace=" | jq -c .)" '{"kind":"LocalQueue","name":"lq-e"}' \
  "the API takes the commands' words for a kind, and an empty namespace is default"
rc=0; mlp --server "$SERVER_URL" delete localqueue lq-t 2>"$T_DIR/err" || rc=$?
assert_eq "$rc" "1" "lq-t is not in namespace default (through the server)"
rc=0; mlp delete localqueue lq-t 2>"$T_DIR/err2" || rc=$?
assert_eq "$rc" "1" "lq-t is not in namespace default (locally)"
assert_eq "$(mlp --server "$SERVER_URL" delete localqueue lq-t -n team)" "LocalQueue/lq-t deleted" "-n team through the server"
assert_eq "$(lqs)" "" "every local queue deleted"
rc=0; out=$(curl -s -w '\n%{http_code}' -X DELETE "$SERVER_URL/api/v1/objects/Frob/x") || true
assert_eq "$(tail -1 <<<"$out")" "400" "an unknown kind is a 400"
assert_contains "$(head -1 <<<"$out" | jq -r .message)" "expected PriorityClass, Node, NodePool, ResourceFlavor, ClusterQueue, LocalQueue, Deployment, Monitor, Secret, RetentionPolicy, Role, RoleBinding, ClusterRole or ClusterRoleBinding" "the 400 lists the kinds"
rc=0; mlp delete frob x 2>"$T_DIR/err" || rc=$?
assert_eq "$rc" "2" "an unknown kind locally"
assert_contains "$(cat "$T_DIR/err")" "expected run, priorityclass, node, nodepool, resourceflavor, clusterqueue, localqueue, deployment, monitor, secret, retentionpolicy, role, rolebinding, clusterrole or clusterrolebinding" "the local message lists the kinds"
ok "delete of a LocalQueue: namespace default when not given (or empty), locally, through --server and the API"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: two, labels: {team: a}}
spec:
  steps:
    - {name: ok, command: ["sh", "-c", "echo fine"]}
    - {name: bad, command: ["sh", "-c", "echo one; echo two; exit 3"], dependsOn: [ok]}
    - {name: never, command: ["true"], dependsOn: [bad]}
YAML
run=$(mlp run --detach "$T_DIR/p.yaml" | head -1)
[ -n "$run" ] || fail "the run did not start"
wait_for "the run to end" 60 sh -c "\"$MLPLANE\" get runs -o json | jq -e --arg id '$run' '.[] | select(.id==\$id) | .state == \"Failed\"'"
local_json=$(mlp describe run "$run" -o json)
remote_json=$(mlp --server "$SERVER_URL" describe run "$run" -o json)
assert_eq "$remote_json" "$local_json" "describe run -o json: the same locally and through the server"
assert_eq "$(jq -r '.steps[] | select(.name=="bad") | .log_tail | join(",")' <<<"$local_json")" "one,two" "the failed step's log tail"
assert_eq "$(jq -r '[.events[].type] | first' <<<"$local_json")" "RunCreated" "with its events"
assert_eq "$(mlp --server "$SERVER_URL" describe run "$run")" "$(mlp describe run "$run")" "describe run: the same text locally and through the server (a step that never ran: exit -)"
ok "describe run (-o json and its text): the same locally and through --server"

for args in "get queue" "get cq" "resume $run"; do
  rc=0; mlp --server "$SERVER_URL" $args >/dev/null 2>"$T_DIR/err" || rc=$?
  assert_eq "$rc" "2" "$args through --server"
  assert_contains "$(cat "$T_DIR/err")" "works on the home directly, not through a server ($SERVER_URL)" "$args: the shared message"
done
ok "what works only on the home says so, in one sentence"
stop_server "$SERVER_PID" || true

# a read that fails is an error, not an empty table
sqlite3 "$MLPLANE_HOME/mlplane.db" "PRAGMA foreign_keys=OFF; DROP TABLE events;"
rc=0; mlp describe run "$run" >/dev/null 2>"$T_DIR/err" || rc=$?
assert_eq "$rc" "1" "describe run when the events cannot be read"
assert_contains "$(cat "$T_DIR/err")" "events" "it says what could not be read"
sqlite3 "$MLPLANE_HOME/mlplane.db" "PRAGMA foreign_keys=OFF; DROP TABLE steps;"
for o in table json; do
  rc=0; out=$(mlp get runs -o $o 2>"$T_DIR/err") || rc=$?
  assert_eq "$rc" "1" "get runs -o $o when the steps cannot be read"
  assert_eq "$out" "" "get runs -o $o prints no partial list"
  assert_contains "$(cat "$T_DIR/err")" "steps" "get runs -o $o says what could not be read"
done
ok "failed reads of events and steps are reported (exit 1), locally"
finish
