#!/bin/bash
# The CLI contract: --help everywhere, version, clear one-line errors, exit codes.
. "$(dirname "$0")/lib.sh"

for c in run get describe logs cancel resume validate version; do
  out=$(mlp $c --help) || fail "$c --help failed"
  assert_contains "$out" "Usage: mlplane $c" "$c --help"
done
mlp --help | grep -q "Commands:" || fail "top-level help"
ok "--help on every command"

mlp version | grep -q "^mlplane [0-9]" || fail "version"
ok "version"

set +e
err=$(mlp frobnicate 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "unknown command exit"
assert_contains "$err" "unknown command" "unknown command message"
err=$(mlp rn 2>&1 || true)
assert_contains "$err" 'did you mean "run"' "command suggestion"
err=$(mlp get 2>&1 || true)
assert_contains "$err" "get needs" "get without args"
err=$(mlp get runs -o xml 2>&1 || true)
assert_contains "$err" "-o expects table, json or yaml" "bad -o"
err=$(mlp run 2>&1 || true)
assert_contains "$err" "exactly one spec file" "run without file"
err=$(mlp run --parallel zero x.yaml 2>&1 || true)
assert_contains "$err" "--parallel expects" "bad --parallel"
ok "usage errors are one clear sentence with status 2"

# --home flag beats MLPLANE_HOME
other="$T_DIR/other-home"
cat > "$T_DIR/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: homes}
spec:
  steps: [{name: a, command: ["true"]}]
YAML
run=$(mlp --home "$other" run "$T_DIR/p.yaml" | head -1)
[ -f "$other/mlplane.db" ] || fail "--home not used"
mlp --home "$other" get runs | grep -q "$run" || fail "run not in --home store"
mlp get runs | grep -q "$run" && fail "run leaked into MLPLANE_HOME"
mlp get runs --home "$other" | grep -q "$run" || fail "--home after the command"
ok "--home, then MLPLANE_HOME"

# --parallel 1 serialises independent steps
cat > "$T_DIR/par.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: par}
spec:
  steps:
    - {name: a, script: 'echo start >> "$T_DIR/par.log"; sleep 0.3; echo end >> "$T_DIR/par.log"'}
    - {name: b, script: 'echo start >> "$T_DIR/par.log"; sleep 0.3; echo end >> "$T_DIR/par.log"'}
YAML
mlp run --parallel 1 "$T_DIR/par.yaml" >/dev/null
assert_eq "$(tr '\n' ' ' < "$T_DIR/par.log")" "start end start end " "parallel 1 serialises"
rm "$T_DIR/par.log"
mlp run --parallel 2 "$T_DIR/par.yaml" >/dev/null
assert_eq "$(tr '\n' ' ' < "$T_DIR/par.log")" "start start end end " "parallel 2 overlaps"
ok "--parallel bounds concurrency"

# a step that can never fit the machine is refused up front
cat > "$T_DIR/big.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: big}
spec:
  steps:
    - {name: huge, command: ["true"], resources: {cpu: "4096", memory: 64Ti}}
YAML
set +e
err=$(mlp run "$T_DIR/big.yaml" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "capacity exit"
assert_contains "$err" "this machine has" "capacity message"
ok "capacity check against the machine"
finish
