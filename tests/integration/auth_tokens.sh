#!/bin/bash
# auth_tokens: mlplane server --auth over real HTTP on 127.0.0.1: 401 (MLflow's
# shape, WWW-Authenticate) without or with bad credentials, the probes public;
# tokens made on the home and through the server (Bearer, and as a Basic
# password), revoked and expired ones refused with the reason; users' passwords
# over Basic (MLflow's users endpoints, update-password); MLflow REST calls with a
# token; --init-admin printing its token once; the refusal of a non-loopback
# address without --auth; the CLI's credentials file and its mode; and no token's
# secret in plain text in the SQLite file, its WAL, the server's output or any
# API answer but its creation's.
. "$(dirname "$0")/lib.sh"
unset MLPLANE_TOKEN MLPLANE_SERVER MLPLANE_TEST_AUTH
export MLPLANE_CREDENTIALS="$T_DIR/no-credentials"
touch "$MLPLANE_CREDENTIALS" && chmod 600 "$MLPLANE_CREDENTIALS"
ANSWERS="$T_DIR/answers"
: >"$ANSWERS"

# http METHOD PATH [curl args...]: prints the status; the body lands in $T_DIR/body (and is kept in $ANSWERS)
http() {
  local m=$1 p=$2; shift 2
  curl -s -D "$T_DIR/headers" -o "$T_DIR/body" -w '%{http_code}' -X "$m" "$SERVER_URL$p" "$@"
  cat "$T_DIR/headers" "$T_DIR/body" >>"$ANSWERS"
}
body() { cat "$T_DIR/body"; }
bearer() { echo "Authorization: Bearer $1"; }
A=/api/2.0/mlflow

# ---- a non-loopback address without --auth is refused, saying how to turn it on
rc=0
out=$(mlp server --listen 0.0.0.0:0 2>&1) || rc=$?
assert_eq "$rc" 2 "server --listen 0.0.0.0:0 without --auth: exit status"
assert_contains "$out" "add --auth" "the refusal says how to turn authentication on"
assert_contains "$out" "0.0.0.0:0" "the refusal names the address"
ok "a non-loopback address without --auth is refused: $out"

# ---- a token made on the home, before any server
LOCAL=$(mlp token create --user ana --namespace team-a --group data --ttl 30d --description "made on the home" 2>"$T_DIR/create.err" | head -1)
[[ "$LOCAL" =~ ^mlp_[0-9a-f]{12}_[0-9a-f]{64}$ ]] || fail "token create's first line is not a token: $LOCAL"
LOCAL_ID=${LOCAL:4:12}
assert_contains "$(cat "$T_DIR/create.err")" "$LOCAL_ID" "token create: the id on stderr"
mlp token list -o json >"$T_DIR/list.json"
assert_eq "$(jq -r --arg id "$LOCAL_ID" '.[] | select(.id == $id) | .namespace' "$T_DIR/list.json")" team-a "token list: namespace"
assert_eq "$(jq -r --arg id "$LOCAL_ID" '.[] | select(.id == $id) | .groups[0]' "$T_DIR/list.json")" data "token list: groups"
assert_eq "$(jq -r --arg id "$LOCAL_ID" '.[] | select(.id == $id) | .last_used' "$T_DIR/list.json")" null "token list: never used"
ok "token create on the home prints the token alone on its first line; list shows it without the secret"

# ---- --init-admin: the admin token on the first line, once
start_server -v --init-admin
ADMIN=$(head -1 "$SERVER_OUT")
[[ "$ADMIN" =~ ^mlp_[0-9a-f]{12}_[0-9a-f]{64}$ ]] || fail "--init-admin's first line is not a token: $ADMIN"
sed -n 2p "$SERVER_OUT" | grep -q "listening on .*authentication on" || fail "second line: $(sed -n 2p "$SERVER_OUT")"
FIRST_PID=$SERVER_PID FIRST_OUT=$SERVER_OUT
ok "--init-admin prints a token on stdout's first line"

# ---- 401 without credentials, the probes public
assert_eq "$(http GET "$A/experiments/search?max_results=10")" 401 "no credentials"
assert_eq "$(jq -r .error_code "$T_DIR/body")" UNAUTHENTICATED "401: MLflow's error code"
grep -qi '^WWW-Authenticate: Basic realm="mlplane"' "$T_DIR/headers" || fail "401 without WWW-Authenticate: $(cat "$T_DIR/headers")"
assert_eq "$(http GET /api/v1/runs)" 401 "/api/v1 without credentials"
assert_eq "$(http GET /healthz)" 200 "/healthz stays public"
assert_eq "$(http GET /readyz)" 200 "/readyz stays public"
assert_eq "$(http GET /api/v1/runs -H "Authorization: Bearer nonsense")" 401 "a malformed token"
last=${ADMIN: -1}; [ "$last" = 0 ] && other=1 || other=0
assert_eq "$(http GET /api/v1/runs -H "$(bearer "${ADMIN%?}$other")")" 401 "a token with a wrong secret"
assert_contains "$(body)" "does not match" "a wrong secret: the reason"
assert_eq "$(http GET /api/v1/runs -H "Authorization: Digest x")" 401 "another scheme"
ok "without valid credentials: 401 UNAUTHENTICATED with WWW-Authenticate; /healthz and /readyz public"

# ---- Bearer tokens: the admin's and the one made on the home
assert_eq "$(http GET /api/v1/runs -H "$(bearer "$ADMIN")")" 200 "admin token"
assert_eq "$(http GET "$A/experiments/search?max_results=10" -H "$(bearer "$LOCAL")")" 200 "the home's token"
assert_eq "$(mlp token list -o json | jq -r --arg id "$LOCAL_ID" '.[] | select(.id == $id) | .last_used != null')" true "last use recorded"
ok "Bearer tokens are accepted, last use recorded"

# ---- MLflow REST calls with a token (what MLFLOW_TRACKING_TOKEN sends)
H=$(bearer "$ADMIN")
assert_eq "$(http POST $A/experiments/create -H "$H" -H 'Content-Type: application/json' --data '{"name":"authexp"}')" 200 "experiments/create"
EXP=$(jq -r .experiment_id "$T_DIR/body")
assert_eq "$(http POST $A/runs/create -H "$H" -H 'Content-Type: application/json' --data "{\"experiment_id\":\"$EXP\"}")" 200 "runs/create"
RUN=$(jq -r .run.info.run_id "$T_DIR/body")
assert_eq "$(http POST $A/runs/log-batch -H "$H" -H 'Content-Type: application/json' \
  --data "{\"run_id\":\"$RUN\",\"metrics\":[{\"key\":\"m\",\"value\":1,\"timestamp\":1,\"step\":0}]}")" 200 "runs/log-batch"
assert_eq "$(http GET "$A/runs/get?run_id=$RUN" -H "$H")" 200 "runs/get"
assert_eq "$(jq -r '.run.data.metrics[0].key' "$T_DIR/body")" m "the logged metric"
assert_eq "$(http POST $A/runs/log-batch -H 'Content-Type: application/json' --data "{\"run_id\":\"$RUN\"}")" 401 "log-batch without a token"
ok "MLflow's REST API works with a Bearer token"

# ---- tokens through the server (the CLI with MLPLANE_SERVER and MLPLANE_TOKEN)
export MLPLANE_SERVER=$SERVER_URL
BOB=$(MLPLANE_TOKEN=$ADMIN mlp token create --user bob --namespace team-b --description "through the server" 2>/dev/null | head -1)
[[ "$BOB" =~ ^mlp_ ]] || fail "token create through the server: $BOB"
BOB_ID=${BOB:4:12}
assert_eq "$(http GET /api/v1/runs -H "$(bearer "$BOB")")" 200 "bob's token"
rc=0
out=$(mlp token list 2>&1) || rc=$?
assert_eq "$rc" 1 "token list through the server without a token"
assert_contains "$out" "authentication required" "without a token: the server's reason"
MLPLANE_TOKEN=$ADMIN mlp token list -o json >"$T_DIR/remote-list.json"
assert_eq "$(jq -r --arg id "$BOB_ID" '.[] | select(.id == $id) | .user' "$T_DIR/remote-list.json")" bob "list through the server"
# bob (not in system:masters) sees only his tokens and cannot make one for someone else or in another group
assert_eq "$(MLPLANE_TOKEN=$BOB mlp token list -o json | jq -r '[.[].user] | unique | join(",")')" bob "bob sees his own tokens only"
assert_eq "$(http POST /api/v1/tokens -H "$(bearer "$BOB")" --data '{"user":"ana"}')" 403 "bob: a token for ana"
assert_eq "$(http POST /api/v1/tokens -H "$(bearer "$BOB")" --data '{"groups":["system:masters"]}')" 403 "bob: a token in system:masters"
assert_eq "$(http DELETE "/api/v1/tokens/$LOCAL_ID" -H "$(bearer "$BOB")")" 404 "bob: revoking ana's token answers as missing"
ok "tokens through the server: created, listed; a non-admin manages only its own"

# ---- revoked and expired tokens are refused, saying so
MLPLANE_TOKEN=$ADMIN mlp token revoke "$BOB_ID" >/dev/null
assert_eq "$(http GET /api/v1/runs -H "$(bearer "$BOB")")" 401 "a revoked token"
assert_contains "$(body)" "was revoked" "a revoked token: the reason"
assert_eq "$(MLPLANE_TOKEN=$ADMIN mlp token list -o json | jq -r --arg id "$BOB_ID" '.[] | select(.id == $id) | .revoked')" true "list: revoked"
unset MLPLANE_SERVER
SHORT=$(mlp token create --user ana --ttl 1s 2>/dev/null | head -1)
[[ "$SHORT" =~ ^mlp_ ]] || fail "token create --ttl 1s: $SHORT"
expired() { [ "$(http GET /api/v1/runs -H "$(bearer "$SHORT")")" = 401 ] && grep -q expired "$T_DIR/body"; }
wait_for "the 1s token to expire" 15 expired
assert_contains "$(body)" "expired at" "an expired token: the reason"
mlp token revoke "$LOCAL_ID" >/dev/null
assert_eq "$(http GET /api/v1/runs -H "$(bearer "$LOCAL")")" 401 "revoked on the home"
ok "revoked and expired tokens get 401 with the reason"

# ---- users: Basic with a password, and with a token as the password
printf 'first-pw\n' | mlp user create carl --password-stdin >/dev/null
assert_eq "$(http GET /api/v1/runs -u carl:first-pw)" 200 "Basic with a password"
assert_eq "$(http GET /api/v1/runs -u carl:first-pw)" 200 "Basic again (remembered)"
assert_eq "$(http GET /api/v1/runs -u carl:wrong)" 401 "Basic with a wrong password"
assert_contains "$(body)" "wrong user name or password" "wrong password: the reason"
assert_eq "$(http GET /api/v1/runs -u nobody:first-pw)" 401 "Basic with an unknown user"
assert_eq "$(http GET /api/v1/runs -u "whoever:$ADMIN")" 200 "Basic with a token as the password"
# MLflow's users endpoints
assert_eq "$(http POST $A/users/create -H "$H" --data '{"username":"dora","password":"d-pw"}')" 200 "users/create"
assert_eq "$(jq -r .user.username "$T_DIR/body")" dora "users/create: the user"
assert_eq "$(jq -r .user.is_admin "$T_DIR/body")" false "users/create: not admin"
assert_eq "$(http GET "$A/users/get?username=dora" -u dora:d-pw)" 200 "users/get by herself"
assert_eq "$(http GET "$A/users/get?username=carl" -u dora:d-pw)" 403 "users/get of another user"
assert_eq "$(http PATCH $A/users/update-password -u dora:d-pw --data '{"username":"dora","password":"d-pw2"}')" 200 "update-password"
assert_eq "$(http GET /api/v1/runs -u dora:d-pw)" 401 "the old password after update-password"
assert_eq "$(http GET /api/v1/runs -u dora:d-pw2)" 200 "the new password"
assert_eq "$(http DELETE $A/users/delete -u dora:d-pw2 --data '{"username":"carl"}')" 403 "a non-admin deletes a user"
assert_eq "$(http DELETE $A/users/delete -H "$H" --data '{"username":"dora"}')" 200 "users/delete"
assert_eq "$(http GET /api/v1/runs -u dora:d-pw2)" 401 "a deleted user"
ok "Basic auth: passwords (Argon2id) and tokens; MLflow's users endpoints"

# ---- the CLI's credentials file
printf '%s\n' "$ADMIN" >"$T_DIR/creds"
chmod 644 "$T_DIR/creds"
rc=0
out=$(MLPLANE_CREDENTIALS="$T_DIR/creds" mlp --server "$SERVER_URL" get runs 2>&1) || rc=$?
assert_eq "$rc" 2 "a credentials file readable by others: exit status"
assert_contains "$out" "chmod 600 $T_DIR/creds" "the refusal says how to fix it"
chmod 600 "$T_DIR/creds"
MLPLANE_CREDENTIALS="$T_DIR/creds" mlp --server "$SERVER_URL" get runs >/dev/null || fail "get runs with a 0600 credentials file"
ok "the credentials file: refused when readable by others, used at mode 0600"

# ---- --init-admin once: a second start prints no token
stop_server "$FIRST_PID" || true
start_server --init-admin
head -1 "$SERVER_OUT" | grep -q "^mlplane server listening on" || fail "second --init-admin printed: $(head -1 "$SERVER_OUT")"
grep -q '^mlp_' "$SERVER_OUT" && fail "second --init-admin printed a token"
grep -q 'exists already' "${SERVER_OUT%.out}.err" || fail "second --init-admin: no note on stderr: $(cat "${SERVER_OUT%.out}.err")"
assert_eq "$(http GET /api/v1/runs -H "$(bearer "$ADMIN")")" 200 "the admin token after a restart"
stop_server "$SERVER_PID" || true
ok "--init-admin prints its token once: not again when the admin exists"

# ---- no token's secret in plain text: the store, its WAL, the server's output, API answers
DB="$MLPLANE_HOME/mlplane.db"
for t in "$ADMIN" "$LOCAL" "$BOB" "$SHORT"; do
  secret=${t:17}
  for f in "$DB" "$DB-wal" "$FIRST_OUT" "${FIRST_OUT%.out}.err" "${SERVER_OUT%.out}.err" "$ANSWERS" "$T_DIR/remote-list.json" "$T_DIR/list.json"; do
    [ -f "$f" ] || continue
    [ "$f" = "$FIRST_OUT" ] && [ "$t" = "$ADMIN" ] && continue # --init-admin's own first line
    n=$(grep -a -c -- "$secret" "$f" || true)
    assert_eq "$n" 0 "the secret of token ${t:4:12} in $(basename "$f")"
  done
done
[ -f "$DB-wal" ] || [ -f "$DB" ] || fail "no store file to check"
# and no password in plain text
for f in "$DB" "$DB-wal" "${FIRST_OUT%.out}.err"; do
  [ -f "$f" ] || continue
  assert_eq "$(grep -a -c -- 'first-pw' "$f" || true)" 0 "a password in $(basename "$f")"
done
ok "no token secret or password in the SQLite file, its WAL, the server's output or the API's answers"

finish
