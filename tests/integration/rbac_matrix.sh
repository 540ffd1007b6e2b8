#!/bin/bash
# rbac_matrix: authorization over real HTTP (mlplane server --auth). Each
# built-in role (viewer, editor, admin), bound by a RoleBinding in team-a, × each
# verb × each resource × its own namespace (team-a) and another (team-b): the
# expected answer (200, or "seen" for a list that shows the object; 403; 404,
# or "none" for a list that does not) is generated from the roles' table below,
# every request is sent (mlplane's /api/v1 and the MLflow API), and the actual
# table is compared with the expected one (the diff printed on a mismatch).
# Also: spec errors of the RBAC kinds at FILE:LINE:COL, get roles|rolebindings,
# a hidden object answers byte for byte as a missing one, a search over another
# namespace finds nothing, and no request of team-a's users changes team-b's
# objects.
. "$(dirname "$0")/lib.sh"

A=/api/2.0/mlflow
# ---- the spec: kinds, errors, get -------------------------------------------------------
cat >"$T_DIR/bad.yaml" <<'EOF'
apiVersion: mlplane.dev/v1
kind: Role
metadata: {name: r, namespace: team-a}
rules:
  - verbs: [get, lst]
    resources: [modles]
---
apiVersion: mlplane.dev/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {kind: Role, name: r}
subjects: [{kind: Robot, name: x}]
EOF
if mlp apply -f "$T_DIR/bad.yaml" 2>"$T_DIR/err"; then fail "a bad Role was applied"; fi
err=$(cat "$T_DIR/err")
assert_contains "$err" "bad.yaml:5:18: rules[0].verbs[1]: unknown verb \"lst\"" "unknown verb at its place"
assert_contains "$err" "did you mean \"list\"" "verb did-you-mean"
assert_contains "$err" "bad.yaml:6:17: rules[0].resources[0]: unknown resource \"modles\"" "unknown resource at its place"
assert_contains "$err" "bad.yaml:11:" "ClusterRoleBinding naming a Role"
assert_contains "$err" "bad.yaml:12:19: field \"subjects[0].kind\" must be one of User, Group" "subject kind"
ok "Role and binding errors at FILE:LINE:COL"

cat >"$T_DIR/roles.yaml" <<'EOF'
apiVersion: mlplane.dev/v1
kind: Role
metadata: {name: run-reader, namespace: team-a}
rules:
  - verbs: [get, list]
    resources: [runs]
---
apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: reader, namespace: team-a}
roleRef: {kind: Role, name: run-reader}
subjects: [{kind: User, name: rita}]
EOF
cat >"$T_DIR/bindings.yaml" <<'EOF'
apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: viewer, namespace: team-a}
roleRef: {kind: ClusterRole, name: viewer}
subjects: [{kind: User, name: vera}]
---
apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: editor, namespace: team-a}
roleRef: {kind: ClusterRole, name: editor}
subjects: [{kind: Group, name: editors}]
---
apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: admin, namespace: team-a}
roleRef: {kind: ClusterRole, name: admin}
subjects: [{kind: User, name: adam}]
---
apiVersion: mlplane.dev/v1
kind: ClusterRole
metadata: {name: queue-reader}
rules: [{verbs: ["*"], resources: [queues]}]
---
apiVersion: mlplane.dev/v1
kind: ResourceFlavor
metadata: {name: flavor}
---
apiVersion: mlplane.dev/v1
kind: ClusterQueue
metadata: {name: cq}
spec:
  resourceGroups:
    - coveredResources: [cpu]
      flavors: [{name: flavor, resources: [{name: cpu, nominalQuota: "1"}]}]
EOF
mlp apply -f "$T_DIR/roles.yaml" >/dev/null
mlp apply -f "$T_DIR/bindings.yaml" >/dev/null
assert_contains "$(mlp get rolebindings)" "Role/run-reader" "get rolebindings"
assert_contains "$(mlp get roles -o json | jq -r '.[0].rules[0].verbs | join(",")')" "get,list" "get roles -o json"
assert_contains "$(mlp get clusterroles)" "cluster-admin" "built-in ClusterRoles listed"
ok "Roles and bindings applied and listed"

for ns in team-a team-b; do
  cat >"$T_DIR/pipe-$ns.yaml" <<EOF
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: pipe-$ns, namespace: $ns}
spec:
  steps:
    - {name: s, command: ["true"]}
EOF
done

# ---- the server and its callers --------------------------------------------------------
start_server --auth --init-admin
trap 'stop_server $SERVER_PID >/dev/null 2>&1 || true; cleanup' EXIT
ADMIN=$(head -1 "$SERVER_OUT")
case "$ADMIN" in mlp_*) ;; *) fail "no admin token on the server's first line: $ADMIN" ;; esac

# req TOKEN METHOD PATH [curl args]: the status; the body in $T_DIR/body
req() {
  local t=$1 m=$2 p=$3; shift 3
  curl -s -o "$T_DIR/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $t" -H 'Content-Type: application/json' \
    "$SERVER_URL$p" "$@"
}
body() { cat "$T_DIR/body"; }
token() { # token USER [GROUP]: a token acting in team-a
  local g=${2:+"\"groups\":[\"$2\"],"}
  [ "$(req "$ADMIN" POST /api/v1/tokens --data "{$g\"user\":\"$1\",\"namespace\":\"team-a\"}")" = 200 ] ||
    fail "token for $1: $(body)"
  body | jq -r .token
}
declare -A TOK
TOK[viewer]=$(token vera)
TOK[editor]=$(token eddie editors)
TOK[admin]=$(token adam)
RITA=$(token rita)
NOBODY=$(token nobody)

assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL$A/experiments/search")" 401 "no credentials: 401"

# ---- the expected table, from the roles ---------------------------------------------------
# What each built-in role grants (docs/security.md), by resource: the verbs.
declare -A GRANTS=(
  [viewer.experiments]="get list" [viewer.runs]="get list" [viewer.models]="get list" [viewer.queues]="get list"
  [viewer.roles]="get list"
  [editor.experiments]="get list create update delete" [editor.runs]="get list create update delete"
  [editor.models]="get list create update delete" [editor.queues]="get list create update delete"
  [editor.roles]="get list"
  [admin.experiments]="get list create update delete" [admin.runs]="get list create update delete"
  [admin.models]="get list create update delete" [admin.queues]="get list create update delete"
  [admin.roles]="get list create update delete"
  [viewer.pipelines]="get list" [editor.pipelines]="get list create update delete" [admin.pipelines]="get list create update delete"
)
# pruns: pipeline runs through mlplane's /api/v1 (RBAC resource runs); runs: MLflow runs
for r in viewer editor admin; do GRANTS[$r.pruns]=${GRANTS[$r.runs]}; done
RESOURCES="pruns pipelines runs models queues roles experiments" # experiments last: deleting one deletes its runs
VERBS="get list create update delete"
# The requests that name an object by its name answer 404 where the caller may
# not even get it; creating something new in a namespace names none (403), but
# creating a run names its experiment.
names_object() { # names_object RESOURCE VERB
  case "$2" in get | update | delete) return 0 ;; create) [ "$1" = runs ] ;; *) return 1 ;; esac
}
# The verbs each resource's requests below cover.
covered() { # covered RESOURCE VERB
  case "$1.$2" in queues.get | queues.list | queues.update | roles.get | roles.list | roles.update) return 1 ;; esac
  case "$1.$2" in pruns.create | pruns.update | pipelines.get | pipelines.create | pipelines.update | pipelines.delete) return 1 ;; esac
  return 0
}
expected() { # expected ROLE WHERE(own|other) RESOURCE VERB
  local role=$1 where=$2 res=$3 verb=$4 g=""
  [ "$where" = own ] && g=" ${GRANTS[$role.$res]} "
  if [[ "$g" == *" $verb "* ]]; then
    [ "$verb" = list ] && echo seen || echo 200
  elif [ "$verb" = list ]; then
    echo none
  elif names_object "$res" "$verb" && [[ "$g" != *" get "* ]]; then
    echo 404
  else
    echo 403
  fi
}

# ---- the objects each row works on, made by the admin in each namespace ------------------
N=0
make_objects() { # make_objects NS: sets EXP_<ns>, RUN_<ns>, MODEL_<ns>, LQ_<ns>, RB_<ns>
  local ns=$1 v=${1//-/_}
  N=$((N + 1))
  [ "$(req "$ADMIN" POST $A/experiments/create -H "X-Mlplane-Namespace: $ns" --data "{\"name\":\"exp-$ns-$N\"}")" = 200 ] ||
    fail "experiment in $ns: $(body)"
  local exp; exp=$(body | jq -r .experiment_id)
  [ "$(req "$ADMIN" POST $A/runs/create --data "{\"experiment_id\":\"$exp\"}")" = 200 ] || fail "run in $ns: $(body)"
  local run; run=$(body | jq -r .run.info.run_id)
  [ "$(req "$ADMIN" POST $A/registered-models/create -H "X-Mlplane-Namespace: $ns" --data "{\"name\":\"model-$ns-$N\"}")" = 200 ] ||
    fail "model in $ns: $(body)"
  local yaml="apiVersion: mlplane.dev/v1
kind: LocalQueue
metadata: {name: lq-$N, namespace: $ns}
spec: {clusterQueue: cq}
---
apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: rb-$N, namespace: $ns}
roleRef: {kind: ClusterRole, name: viewer}
subjects: [{kind: User, name: somebody}]"
  [ "$(req "$ADMIN" POST /api/v1/apply --data "$(jq -n --arg t "$yaml" '{path: "objects.yaml", text: $t}')")" = 200 ] ||
    fail "queue and binding in $ns: $(body)"
  local out; out=$(mlp run "$T_DIR/pipe-$ns.yaml" 2>&1) || fail "pipeline in $ns: $out"
  printf -v "PRUN_$v" %s "$(printf '%s\n' "$out" | head -1)"
  printf -v "EXP_$v" %s "$exp"
  printf -v "RUN_$v" %s "$run"
  printf -v "MODEL_$v" %s "model-$ns-$N"
  printf -v "LQ_$v" %s "lq-$N"
  printf -v "RB_$v" %s "rb-$N"
}

# act ROLE NS RESOURCE VERB: sends the request of that cell, prints the cell's answer.
act() {
  local t=${TOK[$1]} ns=$2 res=$3 verb=$4 v=${2//-/_} code
  local exp=EXP_$v run=RUN_$v model=MODEL_$v lq=LQ_$v rb=RB_$v prun=PRUN_$v
  exp=${!exp} run=${!run} model=${!model} lq=${!lq} rb=${!rb} prun=${!prun}
  case "$res.$verb" in
    pruns.get) code=$(req "$t" GET "/api/v1/runs/$prun") ;;
    pruns.list) code=$(req "$t" GET /api/v1/runs)
      [ "$code" = 200 ] && { body | jq -e --arg r "$prun" '[.[].id] | index($r)' >/dev/null && code=seen || code=none; } ;;
    pruns.delete) code=$(req "$t" DELETE "/api/v1/runs/$prun") ;;
    pipelines.list) code=$(req "$t" GET /api/v1/pipelines)
      [ "$code" = 200 ] && { body | jq -e --arg ns "$ns" '[.[] | select(.namespace == $ns) | .name] | index("pipe-" + $ns)' >/dev/null && code=seen || code=none; } ;;
    experiments.get) code=$(req "$t" GET "$A/experiments/get?experiment_id=$exp") ;;
    experiments.list) code=$(req "$t" POST $A/experiments/search --data '{"max_results":1000}')
      [ "$code" = 200 ] && { body | jq -e --arg e "$exp" '[.experiments[]?.experiment_id] | index($e)' >/dev/null && code=seen || code=none; } ;;
    experiments.create) code=$(req "$t" POST $A/experiments/create -H "X-Mlplane-Namespace: $ns" --data "{\"name\":\"new-$1-$ns-$RANDOM\"}") ;;
    experiments.update) code=$(req "$t" POST $A/experiments/update --data "{\"experiment_id\":\"$exp\",\"new_name\":\"renamed-$1-$ns-$RANDOM\"}") ;;
    experiments.delete) code=$(req "$t" POST $A/experiments/delete --data "{\"experiment_id\":\"$exp\"}") ;;
    runs.get) code=$(req "$t" GET "$A/runs/get?run_id=$run") ;;
    runs.list) code=$(req "$t" POST $A/runs/search --data "{\"experiment_ids\":[\"$exp\"]}")
      [ "$code" = 200 ] && { body | jq -e --arg r "$run" '[.runs[]?.info.run_id] | index($r)' >/dev/null && code=seen || code=none; } ;;
    runs.create) code=$(req "$t" POST $A/runs/create --data "{\"experiment_id\":\"$exp\"}") ;;
    runs.update) code=$(req "$t" POST $A/runs/log-metric --data "{\"run_id\":\"$run\",\"key\":\"m\",\"value\":1,\"timestamp\":1}") ;;
    runs.delete) code=$(req "$t" POST $A/runs/delete --data "{\"run_id\":\"$run\"}") ;;
    models.get) code=$(req "$t" GET "$A/registered-models/get?name=$model") ;;
    models.list) code=$(req "$t" GET "$A/registered-models/search?max_results=1000")
      [ "$code" = 200 ] && { body | jq -e --arg m "$model" '[.registered_models[]?.name] | index($m)' >/dev/null && code=seen || code=none; } ;;
    models.create) code=$(req "$t" POST $A/registered-models/create -H "X-Mlplane-Namespace: $ns" --data "{\"name\":\"new-$1-$ns-$RANDOM\"}") ;;
    models.update) code=$(req "$t" PATCH $A/registered-models/update --data "{\"name\":\"$model\",\"description\":\"changed\"}") ;;
    models.delete) code=$(req "$t" DELETE $A/registered-models/delete --data "{\"name\":\"$model\"}") ;;
    queues.create | roles.create)
      local kind=LocalQueue extra="spec: {clusterQueue: cq}"
      [ "$res" = roles ] && kind=RoleBinding extra="roleRef: {kind: ClusterRole, name: viewer}
subjects: [{kind: User, name: x}]"
      local yaml="apiVersion: mlplane.dev/v1
kind: $kind
metadata: {name: new-$1-$RANDOM, namespace: $ns}
$extra"
      code=$(req "$t" POST /api/v1/apply --data "$(jq -n --arg t "$yaml" '{path: "new.yaml", text: $t}')") ;;
    queues.delete) code=$(req "$t" DELETE "/api/v1/objects/localqueue/$lq?namespace=$ns") ;;
    roles.delete) code=$(req "$t" DELETE "/api/v1/objects/rolebinding/$rb?namespace=$ns") ;;
    *) fail "no request for $res.$verb" ;;
  esac
  echo "$code"
}

# team-b's objects as the admin sees them (what no team-a user may change)
snapshot_b() {
  {
    req "$ADMIN" GET "$A/experiments/get?experiment_id=$EXP_team_b" >/dev/null; body; echo
    req "$ADMIN" GET "$A/runs/get?run_id=$RUN_team_b" >/dev/null; body; echo
    req "$ADMIN" GET "$A/registered-models/get?name=$MODEL_team_b" >/dev/null; body; echo
    mlp get localqueues -o json | jq -c '[.[] | select(.namespace == "team-b")]'
    mlp get rolebindings -o json | jq -c '[.[] | select(.namespace == "team-b")]'
  } >"$1"
}

: >"$T_DIR/expected"
: >"$T_DIR/actual"
for role in viewer editor admin; do
  for where in own other; do
    ns=team-a
    [ "$where" = other ] && ns=team-b
    make_objects team-a
    make_objects team-b
    snapshot_b "$T_DIR/b.before"
    for res in $RESOURCES; do
      # deletes last: the row's objects are gone after them
      for verb in $VERBS; do
        covered "$res" "$verb" || continue
        echo "$role $where $res $verb $(expected "$role" "$where" "$res" "$verb")" >>"$T_DIR/expected"
        echo "$role $where $res $verb $(act "$role" "$ns" "$res" "$verb")" >>"$T_DIR/actual"
      done
    done
    if [ "$where" = other ]; then
      snapshot_b "$T_DIR/b.after"
      diff "$T_DIR/b.before" "$T_DIR/b.after" >/dev/null ||
        fail "$role of team-a changed team-b's objects: $(diff "$T_DIR/b.before" "$T_DIR/b.after")"
    fi
  done
done
if ! diff -u "$T_DIR/expected" "$T_DIR/actual" >"$T_DIR/diff"; then
  cat "$T_DIR/diff" >&2
  fail "the RBAC matrix differs from the expected table (- expected, + actual)"
fi
ok "RBAC matrix: $(wc -l <"$T_DIR/expected") cells (3 roles x verbs x 7 resources x 2 namespaces) as expected"
ok "no request of team-a's users changed team-b's objects"

# ---- a hidden object answers byte for byte as a missing one --------------------------------
make_objects team-b
t=${TOK[viewer]}
hid=$(req "$t" GET "$A/experiments/get?experiment_id=$EXP_team_b"); hb=$(body | sed "s/id=$EXP_team_b /id=ID /g")
mis=$(req "$t" GET "$A/experiments/get?experiment_id=424242"); mb=$(body | sed "s/id=424242 /id=ID /g")
assert_eq "$hid $hb" "$mis $mb" "a hidden experiment answers as a missing one"
hid=$(req "$t" POST $A/runs/log-metric --data "{\"run_id\":\"$RUN_team_b\",\"key\":\"m\",\"value\":1,\"timestamp\":1}"); hb=$(body | sed "s/$RUN_team_b/ID/g")
mis=$(req "$t" POST $A/runs/log-metric --data '{"run_id":"0123456789abcdef0123456789abcdef","key":"m","value":1,"timestamp":1}'); mb=$(body | sed "s/0123456789abcdef0123456789abcdef/ID/g")
assert_eq "$hid $hb" "$mis $mb" "a hidden run answers as a missing one"
assert_eq "$hid" 404 "a hidden run: 404"
assert_eq "$(body | jq -r .error_code)" RESOURCE_DOES_NOT_EXIST "a hidden run: RESOURCE_DOES_NOT_EXIST"
hid=$(req "$t" DELETE $A/registered-models/delete --data "{\"name\":\"$MODEL_team_b\"}"); hb=$(body | sed "s/$MODEL_team_b/NAME/g")
mis=$(req "$t" DELETE $A/registered-models/delete --data '{"name":"no-such-model"}'); mb=$(body | sed "s/no-such-model/NAME/g")
assert_eq "$hid $hb" "$mis $mb" "a hidden model answers as a missing one"
# the artifact proxy: a run's files are in its experiment's namespace
AR=/api/2.0/mlflow-artifacts/artifacts
assert_eq "$(req "$ADMIN" PUT "$AR/$EXP_team_b/$RUN_team_b/artifacts/f.txt" --data-binary secret)" 200 "admin uploads to team-b"
# (the experiment id replaced where it leads a path)
lead() { sed "s#\([\": ]\)$1/#\1ID/#g"; }
hid=$(req "$t" GET "$AR/$EXP_team_b/$RUN_team_b/artifacts/f.txt"); hb=$(body | lead "$EXP_team_b")
mis=$(req "$t" GET "$AR/424242/$RUN_team_b/artifacts/f.txt"); mb=$(body | lead 424242)
assert_eq "$hid $hb" "$mis $mb" "a hidden artifact answers as a missing one"
assert_not_contains "$hb" secret "a hidden artifact's bytes"
assert_eq "$(req "$t" PUT "$AR/$EXP_team_b/$RUN_team_b/artifacts/g.txt" --data-binary x)" 403 "no upload into team-b"
for p in "./$EXP_team_b" "$EXP_team_b/." "x/../$EXP_team_b"; do
  code=$(req "$t" GET "$AR/$p/$RUN_team_b/artifacts/f.txt" --path-as-is)
  assert_not_contains "$code $(body)" secret "a path around the experiment id ($p)"
  [ "$code" != 200 ] || fail "$p: 200"
done
hid=$(req "$t" GET "$AR?path=$EXP_team_b/$RUN_team_b/artifacts"); hb=$(body | lead "$EXP_team_b")
mis=$(req "$t" GET "$AR?path=424242/$RUN_team_b/artifacts"); mb=$(body | lead 424242)
assert_eq "$hid $hb" "$mis $mb" "listing team-b's artifacts answers as listing a missing folder"
assert_not_contains "$hb" f.txt "no file of team-b listed"
make_objects team-a
assert_eq "$(req "${TOK[editor]}" PUT "$AR/$EXP_team_a/$RUN_team_a/artifacts/f.txt" --data-binary mine)" 200 "an editor uploads in team-a"
assert_eq "$(req "$t" GET "$AR/$EXP_team_a/$RUN_team_a/artifacts/f.txt")" 200 "a viewer downloads in team-a"
assert_eq "$(body)" mine "the artifact's bytes"
assert_eq "$(req "$t" DELETE "$AR/$EXP_team_a/$RUN_team_a/artifacts/f.txt")" 403 "a viewer cannot delete an artifact"
ok "hidden objects answer exactly as missing ones (the artifact proxy too)"

# the check reads the object's name where its handler does: a query naming one's own run does not
# open another's run in the body, nor a registry query another's model
make_objects team-a
ed=${TOK[editor]}
assert_eq "$(req "$ed" POST "$A/runs/log-metric?run_id=$RUN_team_a" --data "{\"run_id\":\"$RUN_team_b\",\"key\":\"x\",\"value\":1,\"timestamp\":1}")" 404 "own run in the query, team-b's in the body"
assert_eq "$(req "$ADMIN" GET "$A/runs/get?run_id=$RUN_team_b")" 200 "team-b's run"
assert_eq "$(body | jq -c '[.run.data.metrics[]? | select(.key == "x")] | length')" 0 "team-b's run got no metric"
assert_eq "$(req "$ed" DELETE "$A/registered-models/delete?name=$MODEL_team_b")" 404 "team-b's model named in a DELETE's query"
assert_eq "$(req "$ADMIN" GET "$A/registered-models/get?name=$MODEL_team_b")" 200 "team-b's model is still there"
assert_eq "$(req "$ed" GET "$A/runs/get?run_id=$RUN_team_a" --data "{\"run_id\":\"$RUN_team_b\"}" -X GET)" 404 "a GET with a body: the body counts"
ok "the check reads the name where the handler does"

# ---- Deployments and Monitors through /api/v1, in their metadata.namespace ---------------------
dep_yaml() { # dep_yaml NAME NS: a Deployment and a Monitor of it
  cat <<EOF
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: $1, namespace: $2}
spec:
  model: {name: no-model, version: 1}
---
apiVersion: mlplane.dev/v1
kind: Monitor
metadata: {name: mon-$1, namespace: $2}
spec:
  deployment: $1
  schedule: {intervalSeconds: 3600}
EOF
}
for d in dep-a:team-a dep-b:team-b; do
  assert_eq "$(req "$ADMIN" POST /api/v1/apply --data "$(jq -n --arg t "$(dep_yaml "${d%%:*}" "${d#*:}")" '{path: "d.yaml", text: $t}')")" 200 "apply ${d%%:*}"
done
assert_eq "$(req "$t" GET /api/v1/deployments)" 200 "list deployments"
assert_eq "$(body | jq -c '[.[] | .deployment] | sort')" '["dep-a"]' "a viewer of team-a lists team-a's Deployment only"
assert_eq "$(req "$ADMIN" GET /api/v1/deployments)" 200 "list deployments as the admin"
assert_eq "$(body | jq -c '[.[] | .deployment] | sort')" '["dep-a","dep-b"]' "the admin lists both"
assert_eq "$(req "$t" GET /api/v1/monitors)" 200 "list monitors"
assert_eq "$(body | jq -c '[.[] | .name] | sort')" '["mon-dep-a"]' "a viewer of team-a lists team-a's Monitor only"
for p in "GET /api/v1/deployments/NAME" "POST /api/v1/deployments/NAME/rollout" "DELETE /api/v1/objects/deployment/NAME"; do
  m=${p%% *} u=${p#* }
  hid=$(req "$t" "$m" "${u/NAME/dep-b}" --data '{"percent":10}'); hb=$(body | sed "s/dep-b/NAME/g")
  mis=$(req "$t" "$m" "${u/NAME/no-such-dep}" --data '{"percent":10}'); mb=$(body | sed "s/no-such-dep/NAME/g")
  assert_eq "$hid $hb" "$mis $mb" "$m ${u/NAME/dep-b}: as a missing Deployment"
done
hid=$(req "$t" GET /api/v1/monitors/mon-dep-b); hb=$(body | sed "s/mon-dep-b/NAME/g")
mis=$(req "$t" GET /api/v1/monitors/no-such-mon); mb=$(body | sed "s/no-such-mon/NAME/g")
assert_eq "$hid $hb" "$mis $mb" "a hidden Monitor answers as a missing one"
assert_eq "$(req "$t" GET /api/v1/deployments/dep-a)" 200 "a viewer gets team-a's Deployment"
assert_eq "$(req "$t" POST /api/v1/deployments/dep-a/rollout --data '{"percent":10}')" 403 "a viewer cannot roll out"
assert_eq "$(body | jq -r .message)" "user \"vera\" cannot update deployments in namespace \"team-a\"" "rollout: the permission named"
assert_eq "$(req "$t" POST /api/v1/monitors/mon-dep-a/check)" 403 "a viewer cannot run a check"
assert_eq "$(req "${TOK[editor]}" DELETE /api/v1/objects/monitor/mon-dep-a)" 200 "an editor deletes team-a's Monitor"
assert_eq "$(req "${TOK[editor]}" DELETE /api/v1/objects/deployment/dep-a)" 200 "an editor deletes team-a's Deployment"
assert_eq "$(req "$ADMIN" GET /api/v1/deployments/dep-b)" 200 "team-b's Deployment is still there"
ok "Deployments and Monitors: lists filtered, hidden ones answer as missing, 403 named"

# ---- 403 names the missing permission --------------------------------------------------------
make_objects team-a
assert_eq "$(req "${TOK[viewer]}" DELETE $A/registered-models/delete --data "{\"name\":\"$MODEL_team_a\"}")" 403 "viewer deletes a model"
assert_eq "$(body | jq -r .error_code)" PERMISSION_DENIED "403: error code"
assert_eq "$(body | jq -r .message)" "user \"vera\" cannot delete models in namespace \"team-a\"" "403: the permission named"
# a Role of the namespace: rita reads runs, nothing else
assert_eq "$(req "$RITA" GET "$A/runs/get?run_id=$RUN_team_a")" 200 "a Role's rule grants"
assert_eq "$(req "$RITA" GET "$A/experiments/get?experiment_id=$EXP_team_a")" 404 "a Role grants only its rules"
# no binding: nothing
assert_eq "$(req "$NOBODY" GET "$A/runs/get?run_id=$RUN_team_a")" 404 "a caller without a binding sees nothing"
# runs/create without experiment_id goes to the Default experiment ("0", in namespace default)
for d in '{}' ''; do
  assert_eq "$(req "${TOK[editor]}" POST $A/runs/create --data "$d")" 404 "runs/create without experiment_id ($d)"
  assert_eq "$(body | jq -r .message)" "No Experiment with id=0 exists" "the Default experiment is hidden from team-a's editor"
done
assert_eq "$(req "$ADMIN" POST $A/runs/search --data '{"experiment_ids":["0"]}')" 200 "the Default experiment's runs"
assert_eq "$(body | jq -c '.runs // [] | length')" 0 "no run was made in the Default experiment"
# a submitted run applies its file's other objects: each needs what apply needs
sub="$(cat "$T_DIR/pipe-team-a.yaml")
---
apiVersion: mlplane.dev/v1
kind: ClusterRoleBinding
metadata: {name: escalate}
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: User, name: eddie}]"
assert_eq "$(req "${TOK[editor]}" POST /api/v1/runs --data "$(jq -n --arg s "$sub" '{spec: $s}')")" 403 "a run's file cannot bind cluster-admin"
assert_eq "$(body | jq -r .message)" "user \"eddie\" cannot create roles at cluster scope" "submit: the object's permission named"
assert_eq "$(req "${TOK[viewer]}" POST /api/v1/runs --data "$(jq -n --arg s "$(cat "$T_DIR/pipe-team-a.yaml")" '{spec: $s}')")" 403 "a viewer cannot submit"
assert_eq "$(body | jq -r .message)" "user \"vera\" cannot create runs in namespace \"team-a\"" "submit: runs in the Pipeline's namespace"
assert_not_contains "$(mlp get clusterrolebindings)" escalate "nothing was applied"
ok "403 names the permission; a namespace's Role grants its rules only"

# ---- searches over another namespace find nothing -----------------------------------------------
assert_eq "$(req "${TOK[admin]}" POST $A/runs/search --data "{\"experiment_ids\":[\"$EXP_team_b\"]}")" 200 "runs/search over team-b: 200"
assert_eq "$(body | jq -c .)" "{}" "runs/search over team-b finds nothing"
assert_eq "$(req "${TOK[admin]}" GET "$A/model-versions/search")" 200 "model-versions/search"
req "$ADMIN" POST $A/model-versions/create --data "{\"name\":\"$MODEL_team_b\",\"source\":\"s\"}" >/dev/null
assert_eq "$(req "${TOK[admin]}" GET "$A/model-versions/search?filter=name='$MODEL_team_b'")" 200 "versions of team-b"
assert_eq "$(body | jq -c '.model_versions // [] | length')" 0 "model-versions/search shows no team-b version"
assert_eq "$(req "$ADMIN" GET "$A/model-versions/search?filter=name='$MODEL_team_b'")" 200 "versions as the admin"
assert_eq "$(body | jq -c '.model_versions | length')" 1 "the admin sees the team-b version"
# a pipeline's experiment is in the pipeline's namespace
assert_eq "$(req "${TOK[admin]}" GET "$A/experiments/get-by-name?experiment_name=pipe-team-b")" 404 "team-b's pipeline experiment is hidden"
assert_eq "$(req "${TOK[admin]}" GET "$A/experiments/get-by-name?experiment_name=pipe-team-a")" 200 "team-a's pipeline experiment"
ok "searches over another namespace return nothing, not an error"

# ---- a binding applied through the server takes effect on the next request -----------------------
yaml="apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: vera-b, namespace: team-b}
roleRef: {kind: ClusterRole, name: viewer}
subjects: [{kind: User, name: vera}]"
assert_eq "$(req "${TOK[viewer]}" GET "$A/runs/get?run_id=$RUN_team_b")" 404 "before the binding"
assert_eq "$(req "$ADMIN" POST /api/v1/apply --data "$(jq -n --arg t "$yaml" '{path: "b.yaml", text: $t}')")" 200 "apply a binding"
assert_eq "$(req "${TOK[viewer]}" GET "$A/runs/get?run_id=$RUN_team_b")" 200 "after the binding"
mlp delete rolebinding vera-b -n team-b >/dev/null
wait_for "the deleted binding to stop granting" 10 \
  bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer ${TOK[viewer]}' '$SERVER_URL$A/runs/get?run_id=$RUN_team_b')\" = 404 ]"
ok "bindings applied or deleted (server or home) take effect at once"

# every authenticated caller is in system:authenticated
printf 'apiVersion: mlplane.dev/v1\nkind: ClusterRoleBinding\nmetadata: {name: all-read}\nroleRef: {kind: ClusterRole, name: viewer}\nsubjects: [{kind: Group, name: "system:authenticated"}]\n' >"$T_DIR/all.yaml"
mlp apply -f "$T_DIR/all.yaml" >/dev/null
assert_eq "$(req "$NOBODY" GET "$A/runs/get?run_id=$RUN_team_b")" 200 "system:authenticated bound to viewer: anyone reads"
assert_eq "$(req "$NOBODY" POST $A/runs/delete --data "{\"run_id\":\"$RUN_team_b\"}")" 403 "but writes nothing"
mlp delete clusterrolebinding all-read >/dev/null
ok "a ClusterRoleBinding to system:authenticated grants every caller everywhere"

# ---- MLflow's permission endpoints: a RoleBinding in the experiment's namespace ------------------
make_objects team-a
PERRY=$(token perry)
P=$A/experiments/permissions
assert_eq "$(req "$PERRY" GET "$A/experiments/get?experiment_id=$EXP_team_a")" 404 "perry: nothing before a grant"
assert_eq "$(req "${TOK[viewer]}" POST $P/create --data "{\"experiment_id\":\"$EXP_team_a\",\"username\":\"perry\",\"permission\":\"READ\"}")" 403 "a viewer cannot grant"
assert_eq "$(body | jq -r .message)" "user \"vera\" cannot create roles in namespace \"team-a\"" "granting needs create roles"
assert_eq "$(req "${TOK[admin]}" POST $P/create --data "{\"experiment_id\":\"$EXP_team_a\",\"username\":\"perry\",\"permission\":\"READ\"}")" 200 "the namespace's admin grants READ"
assert_eq "$(body | jq -r .experiment_permission.permission)" READ "create: the permission"
assert_eq "$(req "${TOK[admin]}" POST $P/create --data "{\"experiment_id\":\"$EXP_team_a\",\"username\":\"perry\",\"permission\":\"READ\"}")" 400 "granting twice"
assert_eq "$(body | jq -r .error_code)" RESOURCE_ALREADY_EXISTS "granting twice: code"
assert_eq "$(req "$PERRY" GET "$A/experiments/get?experiment_id=$EXP_team_a")" 200 "READ: get"
assert_eq "$(req "$PERRY" POST $A/experiments/update --data "{\"experiment_id\":\"$EXP_team_a\",\"new_name\":\"perry-1\"}")" 403 "READ: no update"
assert_eq "$(req "${TOK[admin]}" PATCH $P/update --data "{\"experiment_id\":\"$EXP_team_a\",\"username\":\"perry\",\"permission\":\"EDIT\"}")" 200 "update to EDIT"
assert_eq "$(req "${TOK[admin]}" GET "$P/get?experiment_id=$EXP_team_a&username=perry")" 200 "get the permission"
assert_eq "$(body | jq -r .experiment_permission.permission)" EDIT "get: EDIT"
assert_eq "$(req "$PERRY" POST $A/experiments/update --data "{\"experiment_id\":\"$EXP_team_a\",\"new_name\":\"perry-2\"}")" 200 "EDIT: update"
assert_eq "$(req "$PERRY" POST $A/experiments/delete --data "{\"experiment_id\":\"$EXP_team_a\"}")" 403 "EDIT: no delete"
assert_eq "$(req "${TOK[admin]}" PATCH $P/update --data "{\"experiment_id\":\"$EXP_team_a\",\"username\":\"perry\",\"permission\":\"MANAGE\"}")" 200 "update to MANAGE"
assert_eq "$(req "$PERRY" POST $A/runs/delete --data "{\"run_id\":\"$RUN_team_a\"}")" 200 "MANAGE: delete"
assert_eq "$(req "${TOK[admin]}" DELETE $P/delete --data "{\"experiment_id\":\"$EXP_team_a\",\"username\":\"perry\"}")" 200 "delete the permission"
assert_eq "$(req "$PERRY" GET "$A/experiments/get?experiment_id=$EXP_team_a")" 404 "no permission: hidden again"
assert_eq "$(req "${TOK[admin]}" GET "$P/get?experiment_id=$EXP_team_a&username=perry")" 404 "get a deleted permission"
M=$A/registered-models/permissions
assert_eq "$(req "${TOK[admin]}" POST $M/create --data "{\"name\":\"$MODEL_team_a\",\"username\":\"perry\",\"permission\":\"READ\"}")" 200 "grant READ on a model"
assert_eq "$(body | jq -r .registered_model_permission.name)" "$MODEL_team_a" "model permission: name"
assert_eq "$(req "$PERRY" GET "$A/registered-models/get?name=$MODEL_team_a")" 200 "READ on models: get"
assert_eq "$(req "$PERRY" GET "$A/experiments/get?experiment_id=$EXP_team_a")" 404 "READ on models: not experiments"
ok "MLflow's permission endpoints: READ, EDIT, MANAGE as RoleBindings in the object's namespace"

# ---- the audit log saw the refusals ----------------------------------------------------
AUD=$(mlp audit log -o json) || fail "audit log"
assert_eq "$(jq '[.[] | select(.status == 401 and .result == "denied")] | length > 0' <<<"$AUD")" true "a 401 is in the audit log"
assert_eq "$(jq -r '[.[] | select(.status == 403 and .result == "denied") | .user] | unique | index("vera") != null' <<<"$AUD")" true \
  "the viewer's 403s are in the audit log under her name"
assert_eq "$(jq -r '[.[] | select(.status == 403)][0] | .verb != "" and .resource != ""' <<<"$AUD")" true "a refusal names its verb and resource"
mlp audit verify >/dev/null || fail "audit verify after the matrix"
for t in "$ADMIN" "${TOK[viewer]}" "${TOK[editor]}" "$RITA"; do
  grep -a -F -c "${t##*_}" "$MLPLANE_HOME/audit/audit.log" >/dev/null && fail "a token's secret is in the audit log"
done
ok "the audit log records the 401s and 403s with their users, verifies, and holds no token"

finish
