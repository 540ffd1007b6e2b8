#!/bin/bash
# check_layers.sh NM SOURCE_DIR MANIFEST: fails when a folder of src/ includes or calls a folder it may not use.
#
# MANIFEST, one record a line (written by CMakeLists.txt at generation time):
#   layer NAME DIR [ALLOWED...]   folder NAME (DIR relative to SOURCE_DIR) may use itself and ALLOWED
#   obj NAME OBJECT               an object file compiled from NAME's sources
#
# Includes: every #include "X/..." in DIR's .c and .h files, where X is a layer's name, must name NAME or one of
# ALLOWED; an include that climbs out with "../" is refused too. Calls: every symbol an object of NAME leaves
# undefined (nm) and that another layer's object defines must be defined by one of ALLOWED. Symbols no layer
# defines (libc, the libraries of pkg-config) are not checked here; the final link resolves them.
# Each problem is one line "FILE:LINE: error: ..."; the exit status is 1 when there is any.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 NM SOURCE_DIR MANIFEST" >&2
    exit 2
fi
nm=$1 src=$2 manifest=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mlplane-layers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Symbols, two nm runs over every object: "OBJECT: SYMBOL TYPE ..." for what each defines and what it needs.
objs=()
while read -r kind name path; do
    [ "$kind" = obj ] || continue
    [ -f "$path" ] || { echo "$path: error: object file missing (build the libraries first)" >&2; exit 2; }
    objs+=("$path")
done < "$manifest"
: > "$tmp/defs"
: > "$tmp/undefs"
if [ ${#objs[@]} -gt 0 ]; then
    "$nm" -P -A -g --defined-only "${objs[@]}" > "$tmp/defs"
    "$nm" -P -A --undefined-only "${objs[@]}" > "$tmp/undefs"
fi

# Includes: "I LAYER FILE LINE TARGET" for every quoted include of the layer's sources.
: > "$tmp/incs"
while read -r kind name dir _; do
    [ "$kind" = layer ] || continue
    [ -d "$src/$dir" ] || continue
    (cd "$src" && find "$dir" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z |
        xargs -0 -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' /dev/null || true) |
        awk -v l="$name" '{
            file = $0; sub(/:.*/, "", file)
            rest = substr($0, length(file) + 2); line = rest; sub(/:.*/, "", line)
            inc = rest; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
            print "I", l, file, line, inc
        }' >> "$tmp/incs"
done < "$manifest"

awk -v calls="$tmp/calls" -v incs="$tmp/badinc" '
    # "OBJECT: SYMBOL ..." -> obj = OBJECT, sym = SYMBOL
    function split_nm(line,    at) {
        at = match(line, /\.o(bj)?: /)
        if (at == 0) return 0
        obj = substr(line, 1, at + RLENGTH - 3)
        rest = substr(line, at + RLENGTH); sub(/^ +/, "", rest); sym = rest; sub(/ .*/, "", sym)
        return sym != ""
    }
    FILENAME == ARGV[1] && $1 == "layer" {
        layer[$2] = 1; allowed[$2, $2] = 1; may[$2] = ""
        for (i = 4; i <= NF; i++) { allowed[$2, $i] = 1; may[$2] = may[$2] (may[$2] == "" ? "" : " ") $i }
        next
    }
    FILENAME == ARGV[1] && $1 == "obj" {
        path = $0; sub(/^obj +[^ ]+ /, "", path); of[path] = $2
        src = path; sub(/^.*\/CMakeFiles\/[^\/]*\.dir\//, "", src); sub(/\.o(bj)?$/, "", src)
        srcof[path] = (src == path ? path : src)
        next
    }
    FILENAME == ARGV[1] { next }
    FILENAME == ARGV[2] {
        if (split_nm($0) && (obj in of) && !(sym in def)) { def[sym] = of[obj]; defsrc[sym] = srcof[obj] }
        next
    }
    FILENAME == ARGV[3] {
        if (!split_nm($0) || !(obj in of) || !(sym in def)) next
        l = of[obj]
        if (def[sym] == l || allowed[l, def[sym]]) next
        key = obj SUBSEP sym
        if (key in seen) next
        seen[key] = 1
        # the line is found by the shell: "SOURCE SYMBOL LAYER DEFLAYER DEFSOURCE ALLOWED..."
        print srcof[obj], sym, l, def[sym], defsrc[sym], (may[l] == "" ? "only itself" : may[l]) > calls
        next
    }
    {
        inc = $5
        if (inc ~ /^\.\.\// || inc ~ /\/\.\.\//) {
            printf "%s:%s: error: layer %s: #include \"%s\" climbs out of its folder; include \"FOLDER/FILE.h\" of a folder %s may use (%s)\n",
                $3, $4, $2, inc, $2, (may[$2] == "" ? "only itself" : may[$2]) > incs
            next
        }
        top = inc; sub(/\/.*/, "", top)
        if (top == inc || !(top in layer) || allowed[$2, top]) next
        printf "%s:%s: error: layer %s includes \"%s\" of layer %s, which it may not use; %s may use: %s\n",
            $3, $4, $2, inc, top, $2, (may[$2] == "" ? "only itself" : may[$2]) > incs
        next
    }
' "$manifest" "$tmp/defs" "$tmp/undefs" "$tmp/incs"

touch "$tmp/calls" "$tmp/badinc"
[ -s "$tmp/calls" ] || [ -s "$tmp/badinc" ] || exit 0

{
cat "$tmp/badinc"
while read -r a b c d e f; do
    # a=SOURCE b=SYMBOL c=LAYER d=DEFLAYER e=DEFSOURCE f=ALLOWED
    line=""
    # the first call "SYMBOL(" in the source, else its first mention
    if [ -f "$src/$a" ]; then
        line=$(grep -nE -m1 -- "(^|[^[:alnum:]_])$b[[:space:]]*\\(" "$src/$a" | cut -d: -f1 || true)
        [ -n "$line" ] || line=$(grep -nw -m1 -- "$b" "$src/$a" | cut -d: -f1 || true)
    fi
    echo "$a:${line:-1}: error: layer $c uses $b, defined in layer $d ($e), which it may not use; $c may use: $f"
done < "$tmp/calls"
} | sort -t: -k1,1 -k2,2n >&2
n=$(cat "$tmp/calls" "$tmp/badinc" | wc -l)
echo "mlplane: $n layering violation(s); the allowed edges are MLPLANE_LAYER_* in CMakeLists.txt" >&2
exit 1
