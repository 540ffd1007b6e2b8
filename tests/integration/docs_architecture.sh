#!/bin/bash
# docs/architecture.md against the source tree:
#   - every file under src/ has its row in "## Source files" (a table under the
#     heading "### `src/DIR`", first cell the file's name), and every row names a
#     file that exists; every folder has its row in the subsystems table;
#   - the migrations table has one row per migration of src/store/sqlite/migrate.c
#     (v1..vN, in order), and N is the schema version the binary creates;
#   - the interface blocks name every method of the store's and the executor's
#     method tables (src/store/store.h, src/exec/exec.h), and struct store's members;
#   - the table "includes headers of" lists exactly the folders each folder's
#     files include, and nothing outside src/store/sqlite includes its headers.
# Every failure says which file, row or include is missing and where it belongs.
. "$(dirname "$0")/lib.sh"

DOC="$MLPLANE_SRC/docs/architecture.md"
SRC="$MLPLANE_SRC/src"
[ -f "$DOC" ] || fail "no $DOC"

# ---- every file of src/ in "## Source files" -----------------------------------------
# rows "DIR NAME" of the section's tables, DIR as in "### `src/DIR`"
rows=$(awk '
  /^## / { insec = ($0 ~ /^## Source files/); dir = ""; next }
  !insec { next }
  /^### `src\/[^`]*`/ { dir = $0; sub(/^### `src\//, "", dir); sub(/`.*/, "", dir); next }
  dir != "" && /^\| `[^`]+` *\|/ { name = $0; sub(/^\| `/, "", name); sub(/`.*/, "", name); print dir, name }
' "$DOC" | sort)
[ -n "$rows" ] || fail "no rows found under '## Source files' in $DOC: each folder is a '### \`src/DIR\`' heading followed by a table whose rows start with '| \`FILE\` |'"
grep -qx 'engine engine.c' <<<"$rows" || fail "extraction of '## Source files' missed src/engine/engine.c: the section's layout changed"

files=$(cd "$SRC" && find . -type f ! -name '.*' | sed 's|^\./||' | sort)
[ -n "$files" ] || fail "no files under $SRC"
missing="" nfiles=0
while read -r f; do
  dir=$(dirname "$f") name=$(basename "$f")
  nfiles=$((nfiles + 1))
  grep -qxF "$dir $name" <<<"$rows" ||
    missing="$missing
  src/$f: add the row '| \`$name\` | (its top comment, in a line) |' to the table under '### \`src/$dir\`'"
done <<<"$files"
stale=""
while read -r dir name; do
  [ -f "$SRC/$dir/$name" ] || stale="$stale
  '| \`$name\` |' under '### \`src/$dir\`': there is no src/$dir/$name (remove the row, or fix the name)"
done <<<"$rows"
[ -z "$missing$stale" ] ||
  fail "docs/architecture.md's '## Source files' does not match src/:${missing:+
 files it does not list:$missing}${stale:+
 rows that name no file:$stale}"
ok "every file under src/ has its row in docs/architecture.md, and every row a file ($nfiles)"

dirs=$(cd "$SRC" && find . -mindepth 1 -type d | sed 's|^\./||' | sort)
for d in $dirs; do
  grep -qE "^\| \`src/$d\` *\|" "$DOC" ||
    fail "folder src/$d has no row '| \`src/$d\` | (its role) |' in docs/architecture.md's '## Subsystems' table"
  grep -qxF "### \`src/$d\`" "$DOC" ||
    fail "folder src/$d has no heading '### \`src/$d\`' (and table of its files) in docs/architecture.md's '## Source files'"
done
ok "every folder under src/ has its row in the subsystems table and its table of files"

# ---- the migrations table ------------------------------------------------------------
MIG="$SRC/store/sqlite/migrate.c"
[ -f "$MIG" ] || fail "no $MIG"
# each element of the migrations array starts with its comment "/* vN: ...": the numbers, in order
mig=$(awk '/migrations\[\] = \{/ { a = 1; next } a && /^\};/ { exit }
           a && match($0, /^ *\/\* v[0-9]+:/) { s = substr($0, RSTART, RLENGTH); gsub(/[^0-9]/, "", s); print s }' "$MIG")
n=$(wc -w <<<"$mig")
[ "$n" -gt 0 ] || fail "no '/* vN: ...' comments found in the migrations array of $MIG: each migration starts with one"
want=$(seq 1 "$n" | tr '\n' ' ')
assert_eq "$(tr '\n' ' ' <<<"$mig")" "$want" "the '/* vN:' comments of $MIG's migrations array (one per migration, in order)"
# the rows "| vN |" of the first table after "Schema, one migration per version"
doc=$(awk '/^Schema, one migration per version/ { a = 1; next }
           a && /^\|/ { t = 1; if ($2 ~ /^v[0-9]+$/) print substr($2, 2); next }
           a && t { exit }' "$DOC")
[ -n "$doc" ] || fail "no migrations table found after 'Schema, one migration per version' in $DOC"
got=$(tr '\n' ' ' <<<"$doc")
if [ "$got" != "$want" ]; then
  extra=""; for v in $doc; do [ "$v" -le "$n" ] || extra="$extra v$v"; done
  lack=""; for v in $(seq 1 "$n"); do grep -qx "$v" <<<"$doc" || lack="$lack v$v"; done
  fail "docs/architecture.md's migrations table has rows '$got' but $MIG has $n migrations (v1..v$n)${lack:+; add rows for:$lack}${extra:+; no such migration:$extra}"
fi
# the same count as the schema version the binary creates, where sqlite3 can tell
out=$(mlp get runs 2>&1) || fail "mlplane get runs on a fresh home: $out"
if command -v sqlite3 >/dev/null; then
  v=$(sqlite3 "$MLPLANE_HOME/mlplane.db" 'PRAGMA user_version')
  assert_eq "$v" "$n" "schema version of a new store against the '/* vN:' comments of $MIG (a migration without its comment?)"
fi
ok "the migrations table has one row per migration, v1..v$n"

# ---- the interface blocks ------------------------------------------------------------
for h in store/store.h exec/exec.h; do
  # the member each line of a method table declares: its first "(*name)(" (later ones are parameters)
  members=$(awk '/^(typedef )?struct [a-z_]*methods \{/ { a = 1; next } a && /^\}/ { a = 0; next }
                 a && match($0, /\(\*[a-z_]+\)\(/) { print substr($0, RSTART + 2, RLENGTH - 4) }' "$SRC/$h" | sort -u)
  [ -n "$members" ] || fail "no method members found in src/$h"
  for m in $members; do
    grep -qE "(^|[^a-z_])$m([^a-z_]|\$)" "$DOC" ||
      fail "method $m of src/$h is not in docs/architecture.md's interface blocks (## Interfaces)"
  done
done
while read -r type member; do
  grep -qE "const $type \*$member;" "$DOC" ||
    fail "struct store's member 'const $type *$member;' (src/store/store.h) is not in docs/architecture.md's struct store block"
done < <(awk '/^struct store \{/ { a = 1; next } a && /^\};/ { exit }
              a { gsub(/[;*]/, " "); print $2, $3 }' "$SRC/store/store.h")
ok "the interface blocks name every method of store.h's and exec.h's tables and struct store's members"

# ---- includes against the layering table ---------------------------------------------
table=$(awk '/^\| folder \| includes headers of \|/ { a = 1; next } a && /^\|-/ { next }
             a && /^\|/ { split($0, c, "|"); f = c[2]; gsub(/[ `]/, "", f); l = c[3]; gsub(/,/, " ", l); gsub(/—/, "", l); print f, l; next }
             a { exit }' "$DOC")
[ -n "$table" ] || fail "no table '| folder | includes headers of |' in $DOC"
bad=""
for top in $(cd "$SRC" && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\./||' | sort); do
  row=$(awk -v f="$top" '$1 == f { $1 = ""; print }' <<<"$table")
  grep -qE "^$top( |\$)" <<<"$table" || { bad="$bad
  src/$top: no row '| \`$top\` | ... |' in the table"; continue; }
  used=$(grep -rhoE '^#include "[a-z_]+/' "$SRC/$top" | sed 's/#include "//; s|/$||' | sort -u | grep -vx "$top" || true)
  case " $row " in *" every "*) continue;; esac
  for u in $used; do
    case " $row " in *" $u "*) ;; *) bad="$bad
  src/$top includes headers of src/$u ($(grep -rlE "^#include \"$u/" "$SRC/$top" | sed "s|^$SRC/|src/|" | head -3 | tr '\n' ' ')): an upward include, or add $u to the row of $top";; esac
  done
  for l in $row; do
    grep -qx "$l" <<<"$used" || bad="$bad
  the row of $top lists $l, but no file of src/$top includes a header of src/$l: remove it"
  done
done
[ -z "$bad" ] || fail "docs/architecture.md's table '| folder | includes headers of |' does not match the includes:$bad"
outside=$(grep -rlE '^#include "store/sqlite/' "$SRC" | grep -v "^$SRC/store/sqlite/" || true)
[ -z "$outside" ] || fail "headers of src/store/sqlite included outside it: $outside"
ok "every folder includes exactly the folders its row of the layering table lists"

finish
