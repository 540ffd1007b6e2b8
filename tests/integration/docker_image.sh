#!/bin/bash
# The Dockerfile:
#   - always (no Docker needed): its build stage installs every library package
#     of the Makefile's DEB_PKGS; its runtime stage installs the Debian package of
#     every shared library the built binary links (found with readelf and dpkg);
#     its version label is mlplane's version; it runs as uid 10001 with
#     MLPLANE_HOME=/var/lib/mlplane; its default command is a `mlplane server`
#     command line the real binary accepts (listening on 0.0.0.0);
#   - where a Docker daemon answers (`docker info`): the image builds; `mlplane
#     --version` in it prints this version; it runs as uid 10001; the default
#     command, with a read-only root and a volume for the home, answers /readyz
#     on a published port, runs a pipeline sent with `mlplane --server`, and
#     exits 0 on `docker stop`. Without a daemon it prints "skip: WHY" for that
#     part and passes.
# The build takes minutes on a cold cache (Debian packages, then a compile).
. "$(dirname "$0")/lib.sh"

DF="$MLPLANE_SRC/Dockerfile"
[ -f "$DF" ] || fail "no Dockerfile at the top of the source tree"
VERSION=$(mlp --version | awk 'NR == 1 {print $2}')

# stage NAME: the lines of one stage of the Dockerfile, continuations joined
stage() {
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$DF" |
    awk -v s="$1" '/^FROM /{on = ($NF == s)} on'
}
# installs NAME: the packages the stage's apt-get install lines name
installs() {
  stage "$1" | grep -o 'apt-get install [^&]*' | tr ' ' '\n' | grep -v -e '^-' -e '^apt-get$' -e '^install$' -e '^$' | sort -u
}
BUILD_PKGS=$(installs build)
RUNTIME_PKGS=$(installs runtime)
[ -n "$BUILD_PKGS" ] || fail "the Dockerfile has no build stage installing packages ('FROM ... AS build')"
[ -n "$RUNTIME_PKGS" ] || fail "the Dockerfile has no runtime stage installing packages ('FROM ... AS runtime')"

# ---- build stage: the Makefile's packages, less the tests' tools --------------------------
DEB_PKGS=$(make -s -C "$MLPLANE_SRC" --no-print-directory --eval 'mlplane-print-deb: ; @echo $(DEB_PKGS)' mlplane-print-deb)
[ -n "$DEB_PKGS" ] || fail "no DEB_PKGS in the Makefile"
for p in $DEB_PKGS; do
  case $p in jq|curl|sqlite3) continue ;; esac # used by the tests and the demo only
  grep -qx -- "$p" <<<"$BUILD_PKGS" || fail "the Dockerfile's build stage does not install $p (Makefile DEB_PKGS)"
done
ok "the build stage installs the Makefile's build packages ($(wc -w <<<"$BUILD_PKGS") packages)"

# ---- runtime stage: the package of every library the binary links -----------------------
if command -v readelf >/dev/null && command -v dpkg-query >/dev/null && command -v ldconfig >/dev/null; then
  libs=$(readelf -d "$MLPLANE" | sed -n 's/.*(NEEDED).*Shared library: \[\(.*\)\]/\1/p')
  # a sanitizer build (make asan) also links the sanitizers' runtimes, which the image never ships
  libs=$(grep -Ev '^lib(asan|ubsan|lsan|tsan)\.so' <<<"$libs" || true)
  [ -n "$libs" ] || fail "readelf found no NEEDED library in $MLPLANE"
  for lib in $libs; do
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && !f {print $NF; f = 1}')
    [ -n "$path" ] || fail "ldconfig does not know $lib"
    real=$(readlink -f "$path")
    pkg=$(dpkg-query -S "$real" 2>/dev/null || dpkg-query -S "/usr$real" 2>/dev/null || dpkg-query -S "${real#/usr}" 2>/dev/null || true)
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || fail "no Debian package owns $real ($lib)"
    [ "$pkg" = libc6 ] && continue # in every Debian image
    grep -qx -- "$pkg" <<<"$RUNTIME_PKGS" || fail "the runtime stage does not install $pkg, which has $lib"
  done
  for p in $RUNTIME_PKGS; do
    case $p in *-dev|build-essential|cmake|pkg-config) fail "the runtime stage installs a build package: $p" ;; esac
  done
  ok "the runtime stage installs the package of every library mlplane links ($(echo $libs | tr ' ' ','))"
else
  echo "# readelf, dpkg-query or ldconfig missing: the runtime libraries are not checked against the binary"
fi

# ---- runtime stage: version, user, home, command ---------------------------------------------
rt=$(stage runtime)
assert_contains "$rt" "ARG MLPLANE_VERSION=$VERSION" "the image's version is mlplane's (CMakeLists.txt)"
assert_contains "$rt" "org.opencontainers.image.version=\"\${MLPLANE_VERSION}\"" "the OCI version label"
assert_contains "$rt" "USER 10001:10001" "the image runs as uid 10001"
assert_contains "$rt" "MLPLANE_HOME=/var/lib/mlplane" "MLPLANE_HOME"
assert_contains "$rt" "install -d -o 10001 -g 10001" "the home is made for uid 10001"
assert_contains "$rt" 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/mlplane"]' "tini runs mlplane"
cmd=$(sed -n 's/^CMD \[\(.*\)\]$/\1/p' <<<"$rt" | tr -d '",')
assert_eq "$cmd" "server --listen 0.0.0.0:5000 --auth" "the default command (beyond loopback, with authentication)"
# the same command line, on a free port, is one the real server accepts
# shellcheck disable=SC2086
"$MLPLANE" ${cmd/:5000/:0} >"$T_DIR/server.out" 2>"$T_DIR/server.err" &
SERVER_PID=$!
ALL_SERVER_PIDS=$SERVER_PID
wait_for "the server's first line" 20 grep -q "listening on" "$T_DIR/server.out"
port=$(sed -n 's|^mlplane server listening on http://0\.0\.0\.0:\([0-9]*\) .*|\1|p' "$T_DIR/server.out")
[ -n "$port" ] || fail "mlplane ${cmd/:5000/:0} did not listen on 0.0.0.0: $(cat "$T_DIR/server.out" "$T_DIR/server.err")"
wait_for "/readyz" 20 curl -sf "http://127.0.0.1:$port/readyz"
stop_server "$SERVER_PID" || fail "the server did not exit 0 on SIGTERM"
ok "the image's version, user, home and default command ($cmd) check out against the binary"

# ---- the image itself, where Docker works ----------------------------------------------------
DOCKER=${DOCKER:-docker}
if ! command -v "$DOCKER" >/dev/null; then
  echo "skip: docker is not installed: the image is not built here"
  finish
  exit 0
fi
if ! "$DOCKER" info >/dev/null 2>"$T_DIR/docker-info.err"; then
  echo "skip: no Docker daemon answers (docker info: $(tail -1 "$T_DIR/docker-info.err")): the image is not built here"
  finish
  exit 0
fi

IMG="mlplane-test/${T_DIR##*.}:$VERSION"
IMG=$(tr 'A-Z' 'a-z' <<<"$IMG")
CTR=""
docker_cleanup() {
  [ -n "$CTR" ] && "$DOCKER" rm -f -v "$CTR" >/dev/null 2>&1
  "$DOCKER" image rm -f "$IMG" >/dev/null 2>&1
  return 0
}
trap 'rc=$?; docker_cleanup; (exit $rc); cleanup' EXIT

"$DOCKER" build -q -t "$IMG" --build-arg MLPLANE_REVISION=test "$MLPLANE_SRC" >"$T_DIR/build.out" 2>&1 ||
  fail "docker build: $(tail -30 "$T_DIR/build.out")"
ok "docker build of the Dockerfile succeeds"

assert_eq "$("$DOCKER" run --rm "$IMG" --version | awk 'NR == 1 {print $1, $2}')" "mlplane $VERSION" \
  "mlplane --version in the image"
assert_eq "$("$DOCKER" run --rm --entrypoint id "$IMG" -u):$("$DOCKER" run --rm --entrypoint id "$IMG" -g)" "10001:10001" \
  "the image's user"
assert_eq "$("$DOCKER" image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$IMG")" "$VERSION" \
  "the image's version label"
ok "mlplane --version in the image prints $VERSION; it runs as 10001:10001"

# the default command, as deploy/ runs it: read-only root, a volume for the home, tmpfs /tmp
CTR=$("$DOCKER" run -d --read-only --tmpfs /tmp --mount type=volume,dst=/var/lib/mlplane \
  -p 127.0.0.1::5000 "$IMG") || fail "docker run of the default command"
hp=""
for _ in $(seq 1 100); do
  hp=$("$DOCKER" port "$CTR" 5000/tcp 2>/dev/null | head -1)
  [ -n "$hp" ] && break
  sleep 0.2
done
[ -n "$hp" ] || fail "port 5000 of the container is not published"
URL="http://127.0.0.1:${hp##*:}"
wait_for "the containerized server's /readyz" 60 curl -sf "$URL/readyz"
cat >"$T_DIR/hello.yaml" <<'EOF'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: in-image}
spec:
  steps:
    - name: hello
      script: |
        echo "hello from $(id -u)" > hello.txt
        echo '{"words": 3}' > metrics.json
      outputs: [{name: hello, path: hello.txt}]
EOF
out=$(mlp --server "$URL" run "$T_DIR/hello.yaml" 2>&1) || fail "a pipeline run through the containerized server: $out"
assert_contains "$out" "Succeeded" "the pipeline ran in the container"
run=$(head -1 <<<"$out")
assert_contains "$(mlp --server "$URL" get steps "$run" -o json)" '"Succeeded"' "its step succeeded"
"$DOCKER" stop -t 20 "$CTR" >/dev/null
assert_eq "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$CTR")" "0" "docker stop: the server drains and exits 0"
ok "the default command with a read-only root answers /readyz, runs a pipeline, and exits 0 on docker stop"

finish
