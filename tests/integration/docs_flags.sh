#!/bin/bash
# docs/cli.md against the binary: every long flag the reference documents for a
# command appears in that command's --help, and README's console examples that
# need nothing but the binary run with exit status 0.
#
# Where a command's flags are documented, in docs/cli.md:
#   - the command table at the top: row "| `CMD` | `ARGUMENTS` | ...";
#   - each section "## mlplane CMD[, mlplane CMD2]" (or "## ...: mlplane CMD, ..."):
#     its usage block (the first ``` block; a line "mlplane CMD ..." belongs to
#     CMD, an indented line to the line above) and its option table (the first
#     cell of rows "| `-...").
# Flags named in the prose are not checked: prose mentions other commands' flags.
. "$(dirname "$0")/lib.sh"

DOC="$MLPLANE_SRC/docs/cli.md"
[ -f "$DOC" ] || fail "no $DOC"

# Flags documented but deliberately not in a command's --help, with the reason.
#   --home: every command that uses the home takes the global --home (listed by
#           `mlplane --help`); not every command's --help repeats it.
#   --help: every command has it; the help texts do not list themselves.
SKIP=" --home --help "

# pairs "CMD FLAG", one per line
pairs=$(awk '
  function flags(cmd, text,   t) {
    t = text
    while (match(t, /--[a-z][a-z0-9-]*/)) {
      print cmd, substr(t, RSTART, RLENGTH)
      t = substr(t, RSTART + RLENGTH)
    }
  }
  # the command table: rows whose first cell is one command in backquotes
  !insec && /^\| `[a-z][a-z0-9]*` +\|/ {
    t = $0; gsub(/\\\|/, "/", t); split(t, c, "|"); cmd = c[2]; gsub(/[ `]/, "", cmd); flags(cmd, c[3]); next
  }
  /^## / {
    insec = 1; ncmd = 0; inblock = 0; blockdone = 0; cur = ""
    h = $0
    while (match(h, /mlplane [a-z][a-z0-9]*/)) {
      cmds[++ncmd] = substr(h, RSTART + 8, RLENGTH - 8); h = substr(h, RSTART + RLENGTH)
    }
    next
  }
  /^### / { next }
  !insec || ncmd == 0 { next }
  /^```/ {
    if (inblock) { inblock = 0; blockdone = 1 } else if (!blockdone) inblock = 1
    next
  }
  inblock {
    if (match($0, /^mlplane [a-z][a-z0-9]*/)) cur = substr($0, 9, RLENGTH - 8)
    else if ($0 !~ /^ /) cur = ""
    if (cur != "") flags(cur, $0)
    next
  }
  /^\| `-/ {
    t = $0; gsub(/\\\|/, "/", t); split(t, c, "|")
    if (ncmd == 1) flags(cmds[1], c[2])
    else print "AMBIGUOUS", NR
  }
' "$DOC" | sort -u)

[ -n "$pairs" ] || fail "no flags found in $DOC: the extraction no longer matches its layout"
if grep -q '^AMBIGUOUS' <<<"$pairs"; then
  fail "option table in a section for several commands (line $(grep '^AMBIGUOUS' <<<"$pairs" | head -1 | cut -d' ' -f2)): give each command its own section"
fi
# the extraction must find the flags of the commands it is known to document
for want in "run --parallel" "serve --replicas" "server --drain" "sched --policy" "xgb --rounds" "data --test-fraction" "rollout --percent"; do
  grep -qx -- "$want" <<<"$pairs" || fail "extraction missed '$want' in $DOC"
done
ok "flags extracted from docs/cli.md ($(wc -l <<<"$pairs") command/flag pairs)"

missing=""
checked=0
declare -A HELP
while read -r cmd flag; do
  case "$SKIP" in *" $flag "*) continue;; esac
  if [ -z "${HELP[$cmd]+x}" ]; then
    HELP[$cmd]=$(mlp "$cmd" --help 2>&1) || fail "mlplane $cmd --help failed: ${HELP[$cmd]}"
  fi
  # the flag as a word: not a prefix of a longer flag (--listen vs --listen-fd)
  grep -qE -- "(^|[^a-z0-9-])$flag([^a-z0-9-]|\$)" <<<"${HELP[$cmd]}" ||
    missing="$missing
  mlplane $cmd: $flag"
  checked=$((checked + 1))
done <<<"$pairs"
[ -z "$missing" ] || fail "flags in docs/cli.md that \`mlplane CMD --help\` does not know:$missing"
[ "$checked" -gt 20 ] || fail "only $checked flags checked"
ok "every flag docs/cli.md documents for a command is in its --help ($checked)"

# the global flags table against `mlplane --help`
# (--version is left out: a synonym of the `version` command, which the help lists)
top=$(mlp --help)
globals=$(awk '/^## Global flags/ {g = 1; next} /^## / {g = 0} g && /^\| `-/ {split($0, c, "|"); print c[2]}' "$DOC" |
  grep -oE -- '--[a-z][a-z0-9-]*' | sort -u | grep -vx -- '--version')
for want in --home --server; do grep -qx -- "$want" <<<"$globals" || fail "global flags table: no $want"; done
for flag in $globals; do
  grep -qE -- "(^|[^a-z0-9-])$flag([^a-z0-9-]|\$)" <<<"$top" || fail "global flag $flag of docs/cli.md is not in mlplane --help"
done
ok "the global flags of docs/cli.md are in mlplane --help"

# the refused flags stay refused: what the server section once wrongly listed
set +e
err=$(mlp server --replicas 2 --listen 127.0.0.1:0 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "server --replicas exit"
assert_contains "$err" "--replicas" "server --replicas message"
ok "mlplane server refuses --replicas, and docs/cli.md does not list it for server"

# README examples that need nothing but the binary, in a scratch home
cd "$MLPLANE_SRC"
mlp --help >/dev/null || fail "mlplane --help"
mlp help >/dev/null || fail "mlplane help"
mlp version >/dev/null || fail "mlplane version"
# README's hello.yaml, taken from the yaml block after "A pipeline (`hello.yaml`):"
awk '/^A pipeline \(`hello.yaml`\):/ {a = 1; next} a && /^```yaml/ {b = 1; next} b && /^```/ {exit} b' \
  README.md >"$T_DIR/hello.yaml"
grep -q "name: hello" "$T_DIR/hello.yaml" || fail "README: no hello.yaml block found"
out=$(mlp validate "$T_DIR/hello.yaml") || fail "validate README's hello.yaml: $out"
assert_contains "$out" "valid (1 object: 1 Pipeline, 2 steps)" "validate hello.yaml"
out=$(mlp run "$T_DIR/hello.yaml" 2>&1) || fail "mlplane run README's hello.yaml: $out"
id=$(head -1 <<<"$out")
assert_contains "$out" "run $id Succeeded in" "README hello run"
out=$(mlp logs "$id" shout) || fail "logs shout"
assert_contains "$out" "HELLO, WORLD" "README hello shout's log"
out=$(mlp run "$T_DIR/hello.yaml" -p greeting=bonjour) || fail "run hello -p"
assert_contains "$out" "write Running" "a changed param is not a cache hit"
out=$(mlp run "$T_DIR/hello.yaml" -p greeting=bonjour) || fail "run hello again"
assert_contains "$out" "write Cached: cache hit: reusing the outputs of run" "README: cache hit line"
for f in examples/*/pipeline.yaml; do
  mlp validate "$f" >/dev/null || fail "mlplane validate $f"
done
ok "README examples: --help, help, version, hello.yaml (validate, run, logs, cache hit), validate of the example pipelines"

finish
