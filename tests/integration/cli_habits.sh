#!/bin/bash
# Command-line habits: logs --tail, help COMMAND, --no-color/NO_COLOR, apply -f DIR, -f - and
# several -f (through --server: one request), unreadable spec files, ambiguous run ids.
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

# --tail with -f: the last lines of what is there, then everything new
cat > "$T_DIR/gate.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: gated}
spec:
  steps:
    - name: talk
      script: |
        for i in 1 2 3 4 5; do echo "early \$i"; done
        while [ ! -e "$T_DIR/go" ]; do "$NAP" 0.1; done
        echo late
YAML
grun=$(mlp run --detach "$T_DIR/gate.yaml")
wait_for "the step's first lines" 60 sh -c "'$MLPLANE' logs $grun talk | grep -q 'early 5'"
timeout 120 "$MLPLANE" logs -f "$grun" talk --tail 2 >"$T_DIR/followed" &
fpid=$!
wait_for "logs -f --tail to print the tail" 60 grep -q 'early 5' "$T_DIR/followed"
touch "$T_DIR/go"
wait "$fpid" || fail "logs -f --tail exited $?"
assert_eq "$(cat "$T_DIR/followed")" "$(printf 'early 4\nearly 5\nlate')" "logs -f --tail 2"
ok "logs -f --tail N prints the last N lines, then follows"

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
# ---- apply -f DIR and -f - -------------------------------------------------------------------
pc() { printf 'apiVersion: mlplane.dev/v1\nkind: PriorityClass\nmetadata: {name: %s}\nvalue: %s\n' "$1" "$2"; }
mkdir -p "$T_DIR/objs/sub"
pc b-second 20 > "$T_DIR/objs/b.yml"
pc a-first 10 > "$T_DIR/objs/a.yaml"
pc ignored 1 > "$T_DIR/objs/notes.txt"
pc nested 1 > "$T_DIR/objs/sub/c.yaml"
out=$(mlp apply -f "$T_DIR/objs")
assert_eq "$out" "$(printf 'PriorityClass/a-first applied\nPriorityClass/b-second applied')" "apply -f DIR, by name"
names=$(mlp get priorityclasses -o json | jq -r '[.[].name | select(startswith("mlplane-") | not)] | sort | join(",")')
assert_eq "$names" "a-first,b-second" "only DIR's .yaml/.yml files are applied"
ok "apply -f DIR applies every .yaml/.yml of DIR in name order"

# one bad file among good ones: nothing is applied, and each bad file's errors are printed
mkdir -p "$T_DIR/mixed"
pc m-good 5 > "$T_DIR/mixed/1-good.yaml"
printf 'apiVersion: mlplane.dev/v1\nkind: PriorityClass\nmetadata: {name: m-bad}\nvalue: lots\n' > "$T_DIR/mixed/2-bad.yaml"
printf 'apiVersion: mlplane.dev/v1\nkind: Nonsense\nmetadata: {name: x}\n' > "$T_DIR/mixed/3-worse.yml"
set +e
mlp apply -f "$T_DIR/mixed" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "a directory with bad files is a usage error"
err=$(cat "$T_DIR/err")
assert_contains "$err" "$T_DIR/mixed/2-bad.yaml:4:" "the bad file's FILE:LINE:COL"
assert_contains "$err" "$T_DIR/mixed/3-worse.yml:2:" "the other bad file's FILE:LINE:COL"
assert_contains "$err" "2 of 3 files are not valid; nothing was applied" "says nothing was applied"
assert_eq "$(cat "$T_DIR/out")" "" "nothing reported as applied"
assert_eq "$(mlp get priorityclasses -o json | jq -r '.[] | select(.name=="m-good") | .name')" "" "the good file was not applied"
ok "apply -f DIR with one bad file applies nothing and prints each file's errors"

# a reference error in one file rolls back the others too
mkdir -p "$T_DIR/refs"
pc r-good 7 > "$T_DIR/refs/1.yaml"
printf 'apiVersion: mlplane.dev/v1\nkind: LocalQueue\nmetadata: {name: lq, namespace: default}\nspec: {clusterQueue: nosuch}\n' > "$T_DIR/refs/2.yaml"
set +e
mlp apply -f "$T_DIR/refs" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a dangling reference is refused"
assert_contains "$(cat "$T_DIR/err")" "nothing was applied" "reference error: nothing applied"
assert_eq "$(mlp get priorityclasses -o json | jq -r '.[] | select(.name=="r-good") | .name')" "" "the other file was rolled back"
ok "apply -f DIR is one transaction"

out=$(pc from-stdin 3 | mlp apply -f -)
assert_eq "$out" "PriorityClass/from-stdin applied" "apply -f -"
assert_eq "$(mlp get priorityclasses -o json | jq -r '.[] | select(.name=="from-stdin") | .value')" "3" "stdin's object stored"
set +e
printf 'apiVersion: mlplane.dev/v1\nkind: PriorityClass\nmetadata: {name: s}\nvalue: lots\n' | mlp apply -f - >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "bad standard input"
assert_contains "$(cat "$T_DIR/err")" "<stdin>:4:" "standard input's positions are named <stdin>"
ok "apply -f - reads standard input"

start_server
out=$(mlp --server "$SERVER_URL" apply -f "$T_DIR/objs")
assert_eq "$out" "$(printf 'PriorityClass/a-first applied\nPriorityClass/b-second applied')" "apply -f DIR through --server"
out=$(pc srv-stdin 4 | mlp --server "$SERVER_URL" apply -f -)
assert_eq "$out" "PriorityClass/srv-stdin applied" "apply -f - through --server"
set +e
mlp --server "$SERVER_URL" apply -f "$T_DIR/mixed" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "bad files through --server"
assert_contains "$(cat "$T_DIR/err")" "2-bad.yaml:4:" "FILE:LINE:COL through --server"
# a reference error the server finds in a later file: nothing of the request is applied
set +e
mlp --server "$SERVER_URL" apply -f "$T_DIR/refs" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "a dangling reference through --server"
assert_contains "$(cat "$T_DIR/err")" "$T_DIR/refs/2.yaml:" "the reference error's FILE:LINE:COL through --server"
assert_contains "$(cat "$T_DIR/err")" "nothing was applied" "through --server: says nothing was applied"
assert_eq "$(cat "$T_DIR/out")" "" "through --server: nothing reported as applied"
# a reference to an object of an earlier file of the same request is fine
mkdir -p "$T_DIR/queues"
printf 'apiVersion: mlplane.dev/v1\nkind: ResourceFlavor\nmetadata: {name: q-cpus}\n---\napiVersion: mlplane.dev/v1\nkind: ClusterQueue\nmetadata: {name: q-cq}\nspec:\n  resourceGroups:\n    - coveredResources: [cpu]\n      flavors:\n        - name: q-cpus\n          resources: [{name: cpu, nominalQuota: 500m}]\n' > "$T_DIR/queues/1-cq.yaml"
printf 'apiVersion: mlplane.dev/v1\nkind: LocalQueue\nmetadata: {name: q-lq, namespace: default}\nspec: {clusterQueue: q-cq}\n' > "$T_DIR/queues/2-lq.yaml"
out=$(mlp --server "$SERVER_URL" apply -f "$T_DIR/queues")
assert_eq "$out" "$(printf 'ResourceFlavor/q-cpus applied\nClusterQueue/q-cq applied\nLocalQueue/q-lq applied')" "files referring to each other through --server"
# several -f, in their order; a Pipeline is named with its own file
printf 'apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: pp}\nspec:\n  steps: [{name: s, script: "true"}]\n' > "$T_DIR/pp.yaml"
out=$(mlp --server "$SERVER_URL" apply -f "$T_DIR/objs/b.yml" -f "$T_DIR/pp.yaml")
assert_eq "$out" "$(printf 'PriorityClass/b-second applied\npipeline/pp not applied (run it with: mlplane run %s)' "$T_DIR/pp.yaml")" "several -f through --server"
# the one-file body of earlier clients still works
body=$(jq -n --arg t "$(pc old-client 9)" '{path: "/x/old.yaml", text: $t}')
assert_eq "$(curl -s -X POST -d "$body" "$SERVER_URL/api/v1/apply" | jq -c .applied)" '[{"kind":"PriorityClass","name":"old-client","path":"/x/old.yaml"}]' "the {path, text} body"
stop_server "$SERVER_PID" || true
assert_eq "$(mlp get priorityclasses -o json | jq -r '.[] | select(.name=="m-good") | .name')" "" "nothing sent when a file is bad"
assert_eq "$(mlp get priorityclasses -o json | jq -r '.[] | select(.name=="r-good") | .name')" "" "through --server: the earlier file was not applied either"
assert_eq "$(mlp get localqueues -o json | jq -r '.[] | select(.name=="q-lq") | .clusterQueue // .spec.clusterQueue')" "q-cq" "the queues were stored"
ok "apply -f DIR and -f - through --server: one request, all or nothing"

# several -f locally
out=$(mlp apply -f "$T_DIR/objs/a.yaml" -f - <<<"$(pc from-stdin-2 2)")
assert_eq "$out" "$(printf 'PriorityClass/a-first applied\nPriorityClass/from-stdin-2 applied')" "apply -f FILE -f -"
set +e
mlp apply -f "$T_DIR/objs/b.yml" -f "$T_DIR/mixed/2-bad.yaml" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "several -f with a bad one"
assert_contains "$(cat "$T_DIR/err")" "1 of 2 files are not valid; nothing was applied" "several -f: nothing applied"
ok "apply takes several -f"

# ---- a spec file that cannot be read: FILE:1:1 --------------------------------------------------
for cmd in "run" "validate" "apply -f" "sched simulate" "--server http://127.0.0.1:9 run"; do
  set +e
  # shellcheck disable=SC2086
  mlp $cmd "$T_DIR/missing.yaml" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
  set -e
  assert_eq "$rc" "2" "$cmd of a missing file"
  assert_eq "$(head -1 "$T_DIR/err")" "$T_DIR/missing.yaml:1:1: cannot read: No such file or directory" "$cmd of a missing file: FILE:1:1"
done
set +e
mlp apply -f "$T_DIR/objs/a.yaml" -f "$T_DIR/missing.yaml" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "apply of a missing file among others"
assert_contains "$(cat "$T_DIR/err")" "$T_DIR/missing.yaml:1:1: cannot read: No such file or directory" "apply: the missing file's FILE:1:1"
set +e
mlp run "$T_DIR/objs" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "run of a directory"
assert_eq "$(head -1 "$T_DIR/err")" "$T_DIR/objs:1:1: cannot read: Is a directory" "run of a directory: FILE:1:1"
ok "a spec file that cannot be read is FILE:1:1: cannot read: REASON (exit 2)"

# ---- an ambiguous run id prefix is exit status 2, cancel included ---------------------------------
mlp run "$T_DIR/p.yaml" >/dev/null
[ "$(mlp get runs -o json | jq '[.[] | select(.pipeline=="lines")] | length')" -ge 2 ] || fail "two runs of lines"
for cmd in cancel "describe run" logs "get steps"; do
  set +e
  # shellcheck disable=SC2086
  mlp $cmd lines >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
  set -e
  assert_eq "$rc" "2" "$cmd of an ambiguous prefix"
  assert_contains "$(cat "$T_DIR/err")" "is ambiguous" "$cmd of an ambiguous prefix says so"
done
start_server
set +e
mlp --server "$SERVER_URL" cancel lines >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
stop_server "$SERVER_PID" || true
assert_eq "$rc" "2" "cancel of an ambiguous prefix through --server"
ok "an ambiguous run id prefix is exit status 2 for cancel too"
# ---- describe model NAME -----------------------------------------------------------------------
cat > "$T_DIR/reg.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: habits}
spec:
  steps:
    - name: train
      script: echo model > model.bin
      outputs:
        - {name: model, path: model.bin}
      register: {model: habit-model, artifact: model}
YAML
r1=$(mlp run "$T_DIR/reg.yaml" | head -1)
r2=$(mlp run "$T_DIR/reg.yaml" | head -1)
start_server
A="$SERVER_URL/api/2.0/mlflow"
post() { curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -d "$2" "$A/$1"; }
assert_eq "$(post model-versions/set-tag '{"name":"habit-model","version":"1","key":"quality","value":"good"}')" 200 "version tag"
assert_eq "$(post registered-models/set-tag '{"name":"habit-model","key":"team","value":"core"}')" 200 "model tag"
assert_eq "$(post model-versions/transition-stage '{"name":"habit-model","version":"2","stage":"Production","archive_existing_versions":false}')" 200 "stage"
stop_server "$SERVER_PID" || true
out=$(mlp describe model habit-model)
assert_contains "$out" "Name:         habit-model" "describe model: name"
assert_contains "$out" "Tag:          team=core" "describe model: model tags"
assert_contains "$out" "Production" "describe model: stages"
assert_contains "$out" "$r1" "describe model: v1's run"
assert_contains "$out" "$r2" "describe model: v2's run"
assert_contains "$out" "model.bin" "describe model: sources"
assert_contains "$out" "v1      quality=good" "describe model: version tags"
j=$(mlp describe model habit-model -o json)
assert_eq "$(echo "$j" | jq -r '.model_versions[] | select(.version=="1") | .tags[0].key')" "quality" "describe model -o json: version tags"
assert_eq "$(echo "$j" | jq -r '.model_versions[] | select(.version=="2") | .current_stage')" "Production" "describe model -o json: stage"
set +e
mlp describe model nosuch >/dev/null 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "1" "describe of an unknown model"
assert_contains "$(cat "$T_DIR/err")" "models list" "unknown model points at models list"
ok "describe model NAME shows versions, stages, sources and tags"
finish
