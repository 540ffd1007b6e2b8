#!/bin/sh
# Prepares the offline Kubernetes schema validator for the tests: k8s-schemas'
# validate.mjs (official Kubernetes 1.32/1.35 schemas, Kueue, KEDA and KServe
# CRDs) with the npm packages it needs. Prints the folder to use as
# MLPLANE_K8S_SCHEMAS, or nothing when k8s-schemas or npm is not there (the
# tests then skip schema validation and say so).
#
#   scripts/k8s-validator.sh DEST
#
# k8s-schemas is $MLPLANE_K8S_SCHEMAS, else ../shared/k8s-schemas beside the
# source tree. When it has no node_modules, its validator is copied to DEST
# (the schemas linked, not copied) and `npm ci` installs the packages there,
# once per package-lock.json.
set -eu
dest=$1
src=${MLPLANE_K8S_SCHEMAS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/k8s-schemas}
[ -f "$src/validate.mjs" ] || exit 0
if [ -d "$src/node_modules" ]; then echo "$src"; exit 0; fi
command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || exit 0
src=$(cd "$src" && pwd)
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
if [ -d "$dest/node_modules" ] && cmp -s "$src/package-lock.json" "$dest/package-lock.json"; then
  cp "$src/validate.mjs" "$dest/"
else
  cp "$src/package.json" "$src/package-lock.json" "$src/validate.mjs" "$dest/"
  (cd "$dest" && npm ci --no-audit --no-fund --silent >npm.log 2>&1) || { echo "k8s-validator: npm ci failed (see $dest/npm.log); schema checks will be skipped" >&2; exit 0; }
fi
for d in kubernetes crds; do
  rm -f "$dest/$d"
  ln -s "$src/$d" "$dest/$d"
done
echo "$dest"
