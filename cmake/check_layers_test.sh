#!/bin/bash
# check_layers_test.sh CC NM: cmake/check_layers.sh against a synthetic tree of two layers, low and high (high
# may use low): an upward include and an upward call fail, naming the file, the line and the symbol; the same tree
# without them passes.
set -euo pipefail
cc=$1 nm=$2
here=$(cd "$(dirname "$0")" && pwd)
base=${MLPLANE_TEST_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$base"
tmp=$(mktemp -d "$base/layers-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/src/low" "$tmp/src/high" "$tmp/build"
cat > "$tmp/src/low/low.h" <<'C'
int low_fn(int x);
C
cat > "$tmp/src/high/high.h" <<'C'
int high_fn(int x);
extern int high_table[4];
C
cat > "$tmp/src/high/high.c" <<'C'
#include "high/high.h"
#include "low/low.h"
int high_table[4] = {1, 2, 3, 4};
int high_fn(int x) { return low_fn(x) + 1; }
C
cat > "$tmp/src/low/low.c" <<'C'
#include "low/low.h"
int low_fn(int x) { return x * 2; }
C
cat > "$tmp/src/low/up.c" <<'C'
#include "low/low.h"
#include "high/high.h"

/* an upward call and an upward use of data */
int low_up(int x)
{
    return high_fn(x) + high_table[0];
}
C

build() { # objects for the given sources, and the manifest
    : > "$tmp/build/manifest"
    echo "layer low src/low" >> "$tmp/build/manifest"
    echo "layer high src/high low" >> "$tmp/build/manifest"
    for s in "$@"; do
        layer=${s#src/}; layer=${layer%%/*}
        o="$tmp/build/CMakeFiles/layer_$layer.dir/$s.o"
        mkdir -p "$(dirname "$o")"
        "$cc" -c -I"$tmp/src" -o "$o" "$tmp/$s"
        echo "obj $layer $o" >> "$tmp/build/manifest"
    done
}

build src/low/low.c src/low/up.c src/high/high.c
if bash "$here/check_layers.sh" "$nm" "$tmp" "$tmp/build/manifest" 2> "$tmp/err"; then
    fail "the upward include and calls passed"
fi
cat "$tmp/err"
grep -qF 'src/low/up.c:2: error: layer low includes "high/high.h" of layer high, which it may not use; low may use: only itself' "$tmp/err" ||
    fail "no error for the upward include"
grep -qF 'src/low/up.c:7: error: layer low uses high_fn, defined in layer high (src/high/high.c)' "$tmp/err" ||
    fail "no error for the upward call"
grep -qF 'src/low/up.c:' "$tmp/err" && grep -qF 'layer low uses high_table, defined in layer high' "$tmp/err" ||
    fail "no error for the upward use of data"
grep -qF 'mlplane: 3 layering violation(s)' "$tmp/err" || fail "not 3 violations"
if grep -q '^src/high/' "$tmp/err"; then fail "high's downward include or call was refused"; fi

# An include that climbs out of its folder.
printf '#include "../high/high.h"\n' > "$tmp/src/low/up.c"
if bash "$here/check_layers.sh" "$nm" "$tmp" "$tmp/build/manifest" 2> "$tmp/err"; then
    fail "a ../ include passed"
fi
grep -qF 'src/low/up.c:1: error: layer low: #include "../high/high.h" climbs out of its folder' "$tmp/err" ||
    fail "no error for the ../ include"

# Without the violations: passes.
rm "$tmp/src/low/up.c"
rm -rf "$tmp/build"
mkdir -p "$tmp/build"
build src/low/low.c src/high/high.c
bash "$here/check_layers.sh" "$nm" "$tmp" "$tmp/build/manifest" || fail "a tree without violations failed"
echo "ok"
