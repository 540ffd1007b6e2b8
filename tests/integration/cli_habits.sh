#!/bin/bash
# Command-line habits: logs --tail, help COMMAND, --no-color/NO_COLOR, apply -f DIR and -f -.
. "$(dirname "$0")/lib.sh"

# ---- logs --tail N ------------------------------------------------------------------------
cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: lines}
spec:
  steps:
    - name: count
      script: |
        for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i"; done
YAML
mlp run "$T_DIR/p.yaml" >/dev/null
run=$(mlp get runs -o json | jq -r '.[0].id')
out=$(mlp logs "$run" count --tail 3)
assert_eq "$out" "$(printf 'line 8\nline 9\nline 10')" "logs --tail 3"
out=$(mlp logs --tail=2 "$run")
assert_eq "$out" "$(printf '==> count <==\nline 9\nline 10')" "logs --tail=2 of every step"
assert_eq "$(mlp logs "$run" count --tail 0)" "" "--tail 0 prints nothing"
assert_eq "$(mlp logs "$run" count --tail 50 | wc -l)" "10" "--tail past the start prints everything"
for bad in -1 abc 3x ""; do
  set +e
  mlp logs "$run" count --tail "$bad" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
  set -e
  assert_eq "$rc" "2" "--tail '$bad' is a usage error"
  assert_contains "$(cat "$T_DIR/err")" "whole number of lines" "--tail '$bad' says what is expected"
done
set +e
mlp logs "$run" count --tail 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "--tail without a value"
ok "logs --tail N prints the last N lines and rejects a bad N"

start_server
out=$(mlp --server "$SERVER_URL" logs "$run" count --tail 3)
assert_eq "$out" "$(printf 'line 8\nline 9\nline 10')" "logs --tail through --server"
out=$(mlp logs "$run" --tail 1 --server "$SERVER_URL")
assert_eq "$out" "$(printf '==> count <==\nline 10')" "logs --tail of every step through --server"
stop_server "$SERVER_PID" || true
ok "logs --tail through --server"
# ---- help COMMAND ----------------------------------------------------------------------------
for c in run get models apply delete rollout sched describe logs cancel resume serve server validate version data xgb; do
  want=$(mlp "$c" --help)
  got=$(mlp help "$c") || fail "help $c exited $?"
  assert_eq "$got" "$want" "help $c prints what $c --help prints"
done
assert_eq "$(mlp help)" "$(mlp --help)" "help alone is the general help"
assert_contains "$(mlp help)" "Commands:" "general help lists the commands"
set +e
mlp help nope >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "help of an unknown command is a usage error"
assert_contains "$(cat "$T_DIR/err")" 'unknown command "nope"' "help nope says so"
set +e
mlp help lgos 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "help of a misspelt command"
assert_contains "$(cat "$T_DIR/err")" 'did you mean "logs"' "help suggests the nearest command"
ok "help COMMAND prints COMMAND --help; help nope is an error"
# ---- --no-color and NO_COLOR -----------------------------------------------------------------
ESC=$(printf '\033')
colors() { grep -c "$ESC\[3[0-9]m" || true; }
out=$(mlp run "$T_DIR/p.yaml")
assert_not_contains "$out" "$ESC" "no escape sequences when stdout is not a terminal"
if command -v script >/dev/null; then
  # script(1) gives the command a terminal: the live view is drawn there.
  # tty_run CMD: runs CMD on a terminal, checks that the run succeeded, prints how many colour codes it wrote
  tty_run() {
    local o
    o=$(script -qec "$*" /dev/null </dev/null)
    assert_contains "$o" "Succeeded in" "a run on a terminal ($*)"
    printf '%s' "$o" | colors
  }
  [ "$(tty_run "'$MLPLANE' run '$T_DIR/p.yaml'")" -gt 0 ] || fail "the live view on a terminal is coloured"
  assert_eq "$(tty_run "NO_COLOR=1 '$MLPLANE' run '$T_DIR/p.yaml'")" "0" "NO_COLOR turns colours off"
  assert_eq "$(tty_run "'$MLPLANE' --no-color run '$T_DIR/p.yaml'")" "0" "--no-color before the command"
  assert_eq "$(tty_run "'$MLPLANE' run '$T_DIR/p.yaml' --no-color")" "0" "--no-color after the command"
  [ "$(tty_run "NO_COLOR= '$MLPLANE' run '$T_DIR/p.yaml'")" -gt 0 ] || fail "an empty NO_COLOR keeps colours"
  ok "--no-color and NO_COLOR turn the live view's colours off"
else
  echo "# script(1) missing: terminal colour checks skipped"
fi
assert_eq "$(mlp --no-color version | head -1)" "$(mlp version | head -1)" "--no-color is accepted by every command"
finish
