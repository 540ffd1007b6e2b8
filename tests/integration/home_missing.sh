#!/bin/bash
# A home that does not exist (a mistyped --home or MLPLANE_HOME) is an error for
# the commands that only read, and they create nothing; run, apply and server
# create it. A server whose port is taken leaves no home or store behind.
. "$(dirname "$0")/lib.sh"

gone="$T_DIR/no/such/home"
expect_missing() { # ARGS...: fails with the message, creates nothing
  local rc=0
  MLPLANE_HOME="$gone" "$MLPLANE" "$@" >"$T_DIR/out" 2>"$T_DIR/err" || rc=$?
  [ "$rc" -ne 0 ] || fail "mlplane $*: exit 0 on a missing home"
  assert_eq "$(cat "$T_DIR/err")" \
    "mlplane: home $gone does not exist (set --home or MLPLANE_HOME; it is created by run, apply or server)" "mlplane $*"
  [ ! -e "$T_DIR/no" ] || fail "mlplane $* created $(find "$T_DIR/no")"
}
expect_missing get runs
expect_missing get steps somerun
expect_missing get metrics somerun
expect_missing get experiments
expect_missing get deployments
expect_missing get nodes
expect_missing get queue
expect_missing get clusterqueues
expect_missing describe run somerun
expect_missing describe deployment d
expect_missing logs somerun
expect_missing models list
expect_missing models get m
expect_missing cancel somerun
expect_missing resume somerun
expect_missing delete deployment d
expect_missing rollout status d
rc=0
"$MLPLANE" --home "$gone" get runs 2>"$T_DIR/err" || rc=$?
[ "$rc" -ne 0 ] && [ ! -e "$T_DIR/no" ] || fail "--home: rc $rc, $(cat "$T_DIR/err")"
ok "read-only commands on a missing home say so, exit non-zero and create nothing"

cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: fresh}
spec:
  steps:
    - {name: one, command: [sh, -c, 'true']}
YAML
r=$(mlp --home "$T_DIR/new/home" run "$T_DIR/p.yaml" | head -1)
[ -f "$T_DIR/new/home/mlplane.db" ] || fail "run creates the home"
assert_eq "$(mlp --home "$T_DIR/new/home" get runs -o json | jq -r '.[0].id')" "$r" "then it reads"
ok "run creates a missing home"

# a server on a port that is taken: nothing new is left behind
start_server
port=${SERVER_URL##*:}
rc=0
"$MLPLANE" server --home "$T_DIR/srv/home" --listen "127.0.0.1:$port" >"$T_DIR/srv.out" 2>"$T_DIR/srv.err" || rc=$?
[ "$rc" -ne 0 ] || fail "a second server on port $port exited 0"
assert_contains "$(cat "$T_DIR/srv.err")" "127.0.0.1:$port" "says which address"
[ ! -e "$T_DIR/srv" ] || fail "a failed server left $(find "$T_DIR/srv")"
mkdir -p "$T_DIR/empty"
before=$(ls -A "$T_DIR/empty")
rc=0
"$MLPLANE" server --home "$T_DIR/empty" --listen "127.0.0.1:$port" >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "second server exited 0"
assert_eq "$(ls -A "$T_DIR/empty")" "$before" "an existing empty home stays empty (no mlplane.db)"
stop_server "$SERVER_PID"
ok "a server whose port is in use fails and leaves no home or store behind"
finish
