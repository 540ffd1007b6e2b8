#!/bin/bash
# deploy_auth: a Deployment's routes under mlplane server --auth, over real HTTP,
# with model bc registered (versions 1 and 2):
#   - POST /api/v1/authz/review answers about the caller's own credentials;
#   - /admin/* without credentials 401; with a token of a user bound to nothing
#     403 naming the permission; the admin token 200;
#   - a table of role (viewer, editor, admin, none) x admin route (GET and POST
#     /admin/replicas, GET /admin/rollout, POST /admin/rollout/reload) x the
#     Deployment in the caller's namespace or another, expected from the roles,
#     compared with the actual statuses;
#   - inference public by default; with spec.auth.inference: token, 401 without
#     credentials, 200 with a viewer's token, 403 with another namespace's; the
#     health routes stay public;
#   - the server's own calls on the admin routes (mlplane rollout, get
#     deployments' live status) still work; the admin credential file is mode 0600,
#     never in the logs, and goes when the server stops;
#   - a Deployment's refusals are in the server's audit log (as the reviews that
#     said no), its allowed requests are not;
#   - the cache: 40 requests with one token make few reviews; a revoked token
#     is refused once its remembered answer expires.
. "$(dirname "$0")/lib.sh"

register_bc 3 12

deployment() { # deployment NAME NAMESPACE YAML-SPEC-LINES
  printf 'apiVersion: mlplane.dev/v1\nkind: Deployment\nmetadata: {name: %s, namespace: %s}\nspec:\n%s\n' "$1" "$2" "$3" \
    >"$T_DIR/$1.yaml"
  mlp apply -f "$T_DIR/$1.yaml" >/dev/null || fail "apply $1"
}
deployment da team-a "  model: {name: bc, version: 1}
  canary: {version: 2, percent: 10}"
deployment db team-b "  model: {name: bc, version: 1}"
deployment dt team-a "  model: {name: bc, version: 1}
  auth: {inference: token}"

cat >"$T_DIR/bindings.yaml" <<'YAML'
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
subjects: [{kind: User, name: eddie}]
---
apiVersion: mlplane.dev/v1
kind: RoleBinding
metadata: {name: admin, namespace: team-a}
roleRef: {kind: ClusterRole, name: admin}
subjects: [{kind: User, name: adam}]
YAML
mlp apply -f "$T_DIR/bindings.yaml" >/dev/null || fail "apply the bindings"

start_server --auth --init-admin
trap 'stop_server $SERVER_PID >/dev/null 2>&1 || true; cleanup' EXIT
SERVER_ERR="${SERVER_OUT%.out}.err"
ADMIN=$(head -1 "$SERVER_OUT")
case "$ADMIN" in mlp_*) ;; *) fail "no admin token on the server's first line: $ADMIN" ;; esac
export MLPLANE_TOKEN=$ADMIN MLPLANE_SERVER=$SERVER_URL

# st TOKEN METHOD URL: the status (the body in $T_DIR/body); TOKEN "-" sends none
st() {
  local t=$1 m=$2 u=$3 h=()
  [ "$t" = - ] || h=(-H "Authorization: Bearer $t")
  curl -s -o "$T_DIR/body" -w '%{http_code}' -X "$m" "${h[@]}" -H 'Content-Type: application/json' "$u" \
    ${4:+--data-binary "$4"}
}
body() { cat "$T_DIR/body"; }
tok() { mlp token create --user "$1" --namespace "$2" 2>/dev/null | head -1; }
declare -A TOK
TOK[viewer]=$(tok vera team-a)
TOK[editor]=$(tok eddie team-a)
TOK[admin]=$(tok adam team-a)
TOK[none]=$(tok nobody team-a)
for r in viewer editor admin none; do case "${TOK[$r]}" in mlp_*) ;; *) fail "no token for $r" ;; esac; done

url_of() { mlp get deployments -o json | jq -r --arg n "$1" '.[] | select(.deployment == $n) | .url // empty'; }
ready() { local u; u=$(url_of "$1") && [ -n "$u" ] && curl -sf "$u/v2/health/ready" >/dev/null; }
for d in da db dt; do wait_for "deployment $d ready" 60 ready $d; done
UA=$(url_of da) UB=$(url_of db) UT=$(url_of dt)

# ---- the review endpoint ----------------------------------------------------------
R=$SERVER_URL/api/v1/authz/review
assert_eq "$(st - POST "$R" '{"verb":"get","resource":"deployments","namespace":"team-a"}')" 401 "review without credentials"
assert_eq "$(st "${TOK[viewer]}" POST "$R" '{"verb":"get","resource":"deployments","namespace":"team-a"}')" 200 "review"
assert_eq "$(body | jq -c '[.allowed, .user]')" '[true,"vera"]' "viewer may get deployments in team-a"
st "${TOK[viewer]}" POST "$R" '{"verb":"update","resource":"deployments","namespace":"team-a"}' >/dev/null
assert_eq "$(body | jq -r '.allowed')" false "viewer may not update"
assert_eq "$(body | jq -r '.reason')" 'user "vera" cannot update deployments in namespace "team-a"' "the reason"
assert_eq "$(st "${TOK[viewer]}" POST "$R" '{"verb":"fly","resource":"deployments","namespace":"team-a"}')" 400 "bad verb"
assert_contains "$(body)" 'must be one of get, list, create, update, delete' "bad verb's message"
ok "POST /api/v1/authz/review: 401 without credentials, the caller's own answer with the reason, 400 for a bad verb"

# ---- admin routes: 401, 403, 200 --------------------------------------------------
assert_eq "$(st - GET "$UA/admin/replicas")" 401 "admin without credentials"
assert_contains "$(body)" "authentication required" "401's message"
assert_eq "$(st mlp_000000000000_0000000000000000000000000000000000000000000000000000000000000000 GET "$UA/admin/replicas")" 401 "a bad token"
assert_eq "$(st "${TOK[none]}" GET "$UA/admin/replicas")" 403 "no bindings"
assert_eq "$(body | jq -r .error)" 'user "nobody" cannot get deployments in namespace "team-a"' "403 names the permission"
assert_eq "$(st "$ADMIN" GET "$UA/admin/replicas")" 200 "the admin token"
assert_eq "$(st "${TOK[viewer]}" POST "$UA/admin/replicas?n=1")" 403 "viewer POST"
assert_eq "$(body | jq -r .error)" 'user "vera" cannot update deployments in namespace "team-a"' "viewer POST's reason"
assert_eq "$(st "${TOK[editor]}" POST "$UA/admin/replicas?n=1")" 200 "editor POST"
ok "admin routes: 401 without or with bad credentials, 403 naming the permission, 200 for the admin and for an editor's POST"

# ---- the matrix: role x admin route x own / other namespace -------------------------
routes=("GET /admin/replicas" "POST /admin/replicas?n=1" "GET /admin/rollout" "POST /admin/rollout/reload")
verb_of() { case "$1" in GET*) echo get ;; *) echo update ;; esac; }
declare -A GRANTS=([viewer]="get" [editor]="get update" [admin]="get update" [none]="")
: >"$T_DIR/expected"
: >"$T_DIR/actual"
for role in viewer editor admin none; do
  for r in "${routes[@]}"; do
    for where in own other; do
      v=$(verb_of "$r")
      exp=403
      [ "$where" = own ] && case " ${GRANTS[$role]} " in *" $v "*) exp=200 ;; esac
      u=$UA
      [ "$where" = other ] && u=$UB
      echo "$role $r $where $exp" >>"$T_DIR/expected"
      echo "$role $r $where $(st "${TOK[$role]}" "${r%% *}" "$u${r#* }")" >>"$T_DIR/actual"
    done
  done
done
diff "$T_DIR/expected" "$T_DIR/actual" >"$T_DIR/matrix.diff" || fail "the admin routes' matrix: $(cat "$T_DIR/matrix.diff")"
ok "admin routes' matrix: $(wc -l <"$T_DIR/expected") cases (4 roles x 4 routes x own/other namespace) as the roles say"

# ---- inference ----------------------------------------------------------------------
INFER=(--data-binary @"$T_DIR/one.json")
code() { curl -s -o "$T_DIR/body" -w '%{http_code}' "$@"; }
assert_eq "$(code -XPOST "$UA/v2/models/da/infer" "${INFER[@]}")" 200 "public inference without a token"
assert_eq "$(code -XPOST "$UT/v2/models/dt/infer" "${INFER[@]}")" 401 "token inference without a token"
assert_eq "$(code -XPOST -H "Authorization: Bearer ${TOK[viewer]}" "$UT/v2/models/dt/infer" "${INFER[@]}")" 200 "viewer inference"
assert_eq "$(code -XPOST -H "Authorization: Bearer ${TOK[none]}" "$UT/v2/models/dt/infer" "${INFER[@]}")" 403 "no bindings inference"
assert_eq "$(code "$UT/v2/health/ready")" 200 "health stays public"
assert_eq "$(code "$UT/metrics")" 200 "metrics as before"
ok "inference: public by default; with auth.inference: token 401 without a token, 200 for a viewer, 403 without bindings; health public"

# ---- the audit log: a Deployment's refusals, as the reviews that said no -----------------
AUD=$(env -u MLPLANE_SERVER "$MLPLANE" audit log -o json) || fail "audit log"
assert_eq "$(jq -c '[.[] | select(.user == "vera" and .verb == "update" and .resource == "deployments" and .name == "da")
  | [.namespace, .status, .result]] | unique' <<<"$AUD")" '[["team-a",403,"denied"]]' "the viewer's refused POST in the audit log"
assert_eq "$(jq '[.[] | select(.user == "vera" and .name == "db" and .namespace == "team-b" and .result == "denied")] | length > 0' \
  <<<"$AUD")" true "a refusal in the other namespace in the audit log"
assert_eq "$(jq '[.[] | select(.user == "eddie" and .verb == "update" and .name == "da" and .result == "denied")] | length' \
  <<<"$AUD")" 0 "an allowed review is not audited"
env -u MLPLANE_SERVER "$MLPLANE" audit verify >/dev/null || fail "audit verify"
ok "the Deployments' refusals are in the server's audit log (user, verb, resource, namespace, name, 403), allowed reviews are not; the log verifies"

# ---- the cache: one token's repeated requests, few reviews; a revoked token stops -------------
reviews() { # the server's count of answered reviews
  curl -s -H "Authorization: Bearer $ADMIN" "$SERVER_URL/metrics" |
    awk '/^mlplane_http_requests_total\{/ && /route="\/api\/v1\/authz\/review"/ { n += $NF } END { print n + 0 }'
}
EDDIE2=$(tok eddie team-a)
before=$(reviews)
for i in $(seq 1 40); do
  [ "$(st "$EDDIE2" GET "$UA/admin/replicas")" = 200 ] || fail "request $i with a fresh editor token: $(body)"
done
after=$(reviews)
[ $((after - before)) -ge 1 ] && [ $((after - before)) -le 10 ] ||
  fail "40 requests with one token made $((after - before)) reviews (1 to 10 expected with a 5 s cache)"
mlp token revoke "${EDDIE2:4:12}" >/dev/null || fail "revoke"
denied() { [ "$(st "$EDDIE2" GET "$UA/admin/replicas")" = 401 ]; }
wait_for "the revoked token to be refused by the Deployment" 20 denied
ok "40 requests with one token: $((after - before)) review(s) (cached); the token revoked, refused (401) once its answer expires"

# ---- the server's own calls ---------------------------------------------------------
CRED="$MLPLANE_HOME/serving/.admin-credential"
assert_eq "$(stat -c %a "$CRED")" 600 "the admin credential's mode"
out=$(mlp rollout promote da --percent 40 2>&1) || fail "rollout promote through the server: $out"
assert_contains "$out" "gets 40% of the requests" "rollout promote's output"
assert_not_contains "$out" "not" "rollout promote told the deployment"
assert_eq "$(mlp rollout status da -o json | jq -r '[.tracks[] | .percent] | join(" ")')" "60 40" "the live split"
out=$(env -u MLPLANE_SERVER -u MLPLANE_TOKEN "$MLPLANE" rollout promote da 2>&1) || fail "rollout on the home: $out"
assert_not_contains "$out" "not" "rollout promote on the home told the deployment"
assert_eq "$(mlp rollout status da -o json | jq -r '[.pid != null, (.tracks[] | .percent)] | join(" ")')" "true 0 100" "after promote on the home"
assert_not_contains "$(mlp rollout status da 2>&1)" "did not answer" "status is live"
SECRET=$(cat "$CRED")
for f in "$SERVER_ERR" "$SERVER_OUT" "$MLPLANE_HOME"/serving/*/server.log; do
  if grep -F -- "$SECRET" "$f" >/dev/null; then fail "the admin credential is in $f"; fi
done
if pgrep -af "mlplane" | grep -F -- "$SECRET" >/dev/null; then fail "the admin credential is on a command line"; fi
ok "mlplane rollout through the server and on the home still reach the admin routes; the credential is 0600 and in no log or command line"

stop_server "$SERVER_PID" || fail "the server's exit status"
[ ! -e "$CRED" ] || fail "the admin credential stayed after the server stopped"
ok "the admin credential goes with the server"
finish
