#!/bin/bash
# The registry's artifact store keeps a version's files as long as a version
# names them: a registered directory output is copied into
# HOME/artifacts/sha256/HE/HEX/NAME and served by the artifact proxy after its run
# folder is gone; deleting one of two versions of the same bytes keeps the blob,
# deleting the last (or the registered model) removes it; the sweep at
# `mlplane server`'s start removes orphans and interrupted copies, and nothing a
# version names.
. "$(dirname "$0")/lib.sh"

cat >"$T_DIR/dir.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: dirmodel}
spec:
  params:
    tag: "a"
  steps:
    - name: train
      script: |
        mkdir -p bundle/sub
        echo "weights {{params.tag}}" > bundle/model.bin
        echo "config" > bundle/sub/config.txt
      outputs: [{name: bundle, path: bundle}]
      register: {model: dm, artifact: bundle}
YAML
src_of() { mlp models get "$1" -o json | jq -r --arg v "$2" '.model_versions[] | select(.version == $v) | .source'; }

run1=$(mlp run "$T_DIR/dir.yaml" | head -1)
S1=$(src_of dm 1)
case "$S1" in mlflow-artifacts:/sha256/??/*/bundle) ;; *) fail "a directory's source: $S1" ;; esac
rel=${S1#mlflow-artifacts:/}
hex=$(basename "$(dirname "$rel")")
[ "${#hex}" = 64 ] || fail "HEX in $S1"
assert_eq "$(echo "$rel" | cut -d/ -f2)" "${hex:0:2}" "HE is HEX's first two digits"
[ -f "$MLPLANE_HOME/artifacts/$rel/sub/config.txt" ] || fail "the stored tree"
rm -rf "$MLPLANE_HOME/runs/$run1"
start_server
api="$SERVER_URL/api/2.0"
l=$(curl -sf "$api/mlflow-artifacts/artifacts?path=$rel") || fail "list"
assert_eq "$(echo "$l" | jq -c '[.files[] | [.path, .is_dir]]')" '[["model.bin",false],["sub",true]]' "the listing"
l=$(curl -sf "$api/mlflow-artifacts/artifacts?path=$rel/sub") || fail "list sub"
assert_eq "$(echo "$l" | jq -c '[.files[] | [.path, .file_size]]')" '[["config.txt",7]]' "the sub-folder's listing"
assert_eq "$(curl -sf "$api/mlflow-artifacts/artifacts/$rel/model.bin")" "weights a" "a file of the tree"
assert_eq "$(curl -sf "$api/mlflow-artifacts/artifacts/$rel/sub/config.txt")" "config" "a nested file"
ok "a registered directory is stored by content (sha256/HE/HEX/bundle) and served by the proxy after its run folder is deleted"

for how in "-X PUT --data-binary evil $api/mlflow-artifacts/artifacts/$rel/model.bin" \
           "-X DELETE $api/mlflow-artifacts/artifacts/$rel/sub" \
           "-X PUT --data-binary evil $api/mlflow-artifacts/artifacts/./sha256/new.bin" \
           "-X DELETE $api/mlflow-artifacts/artifacts/sha256"; do
  # shellcheck disable=SC2086
  assert_eq "$(curl -s -o "$T_DIR/body" -w '%{http_code}' $how)" "403" "refused: $how"
  assert_eq "$(jq -r .error_code "$T_DIR/body")" "PERMISSION_DENIED" "its error code"
done
assert_eq "$(curl -sf "$api/mlflow-artifacts/artifacts/$rel/model.bin")" "weights a" "the blob unchanged"
[ -f "$MLPLANE_HOME/artifacts/$rel/sub/config.txt" ] || fail "the tree still there"
[ ! -e "$MLPLANE_HOME/artifacts/sha256/new.bin" ] || fail "nothing written under sha256/"
ok "the content-addressed blobs are read-only through the artifact proxy (PUT and DELETE under sha256/ are 403)"

# The same bytes again (a cache hit): version 2 shares the blob.
mlp run "$T_DIR/dir.yaml" >/dev/null
assert_eq "$(src_of dm 2)" "$S1" "the same bytes, the same source"
# Other bytes: version 3, another blob.
mlp run "$T_DIR/dir.yaml" -p tag=b >/dev/null
S3=$(src_of dm 3)
[ "$S3" != "$S1" ] || fail "other bytes, the same source"
rel3=${S3#mlflow-artifacts:/}
del() { curl -sf -XDELETE "$api/mlflow/model-versions/delete" -d "{\"name\":\"$1\",\"version\":\"$2\"}" >/dev/null; }
del dm 1 || fail "delete version 1"
[ -d "$MLPLANE_HOME/artifacts/$rel" ] || fail "the blob went while version 2 names it"
assert_eq "$(curl -sf "$api/mlflow-artifacts/artifacts/$rel/model.bin")" "weights a" "version 2's file"
del dm 2 || fail "delete version 2"
[ ! -e "$MLPLANE_HOME/artifacts/$rel" ] || fail "the blob stays after its last version is deleted"
[ ! -e "$MLPLANE_HOME/artifacts/$(dirname "$rel")" ] || fail "the empty HEX folder stays"
[ -d "$MLPLANE_HOME/artifacts/$rel3" ] || fail "version 3's blob went with another version's"
ok "deleting one of two versions of the same bytes keeps the blob; deleting the last removes it"

# A file registered by two models: deleting one model keeps the other's.
cat >"$T_DIR/file.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: filemodel}
spec:
  steps:
    - name: train
      script: echo same > model.bin
      outputs: [{name: model, path: model.bin}]
      register: {model: f1, artifact: model}
YAML
reg_file() { sed "s/model: f1,/model: $1,/" "$T_DIR/file.yaml" >"$T_DIR/file-$1.yaml"; mlp run "$T_DIR/file-$1.yaml" >/dev/null || fail "registering $1"; }
reg_file f1
reg_file f2
F=$(src_of f1 1)
assert_eq "$(src_of f2 1)" "$F" "two models, one blob"
fpath="$MLPLANE_HOME/artifacts/${F#mlflow-artifacts:/}"
curl -sf -XDELETE "$api/mlflow/registered-models/delete" -d '{"name":"f1"}' >/dev/null || fail "delete model f1"
[ -f "$fpath" ] || fail "model f2's file went with model f1"
curl -sf -XDELETE "$api/mlflow/registered-models/delete" -d '{"name":"dm"}' >/dev/null || fail "delete model dm"
[ ! -e "$MLPLANE_HOME/artifacts/$rel3" ] || fail "a deleted model's blob stays"
curl -sf -XDELETE "$api/mlflow/registered-models/delete" -d '{"name":"f2"}' >/dev/null || fail "delete model f2"
[ ! -e "$fpath" ] || fail "the file stays after its last model is deleted"
ok "deleting a registered model removes the blobs no other model's versions name"
stop_server "$SERVER_PID" || fail "server exit status"

# The sweep: an orphan (as a crash between a deletion and its removal leaves),
# an interrupted directory copy; kept: blobs versions name (by URI, by an
# absolute path an MLflow client gave), a foreign entry.
reg_file kept
K="$MLPLANE_HOME/artifacts/$(src_of kept 1 | sed 's|^mlflow-artifacts:/||')"
[ -f "$K" ] || fail "the kept version's file"
ext=$(printf 'ext' | sha256sum | cut -d' ' -f1)
E="$MLPLANE_HOME/artifacts/sha256/${ext:0:2}/$ext/w.bin"
start_server
api="$SERVER_URL/api/2.0"
mkdir -p "$(dirname "$E")" && echo ext >"$E"
curl -sf -XPOST "$api/mlflow/registered-models/create" -d '{"name":"ext"}' >/dev/null || fail "create model ext"
curl -sf -XPOST "$api/mlflow/model-versions/create" -d "{\"name\":\"ext\",\"source\":\"$E\"}" >/dev/null ||
  fail "create a version of ext"
stop_server "$SERVER_PID" || fail "server exit status"
orphan=$(printf 'orphan' | sha256sum | cut -d' ' -f1)
mkdir -p "$MLPLANE_HOME/artifacts/sha256/${orphan:0:2}/$orphan/sub"
echo x >"$MLPLANE_HOME/artifacts/sha256/${orphan:0:2}/$orphan/sub/f"
kdir=$(dirname "$K")
mkdir -p "$kdir/.tmp-abc123/part" "$MLPLANE_HOME/artifacts/sha256/notes"
echo mine >"$MLPLANE_HOME/artifacts/sha256/notes/readme"
start_server
[ ! -e "$MLPLANE_HOME/artifacts/sha256/${orphan:0:2}" ] || fail "the orphan survived the sweep"
[ ! -e "$kdir/.tmp-abc123" ] || fail "an interrupted copy survived the sweep"
[ -f "$K" ] || fail "the sweep removed a blob a version names"
[ -f "$E" ] || fail "the sweep removed a blob a version names by its absolute path"
[ -f "$MLPLANE_HOME/artifacts/sha256/notes/readme" ] || fail "the sweep removed an entry that is not HE/HEX"
assert_contains "$(cat "${SERVER_OUT%.out}.err")" "removed 2 blobs no model version names" "the sweep's line"
stop_server "$SERVER_PID" || fail "server exit status"
ok "mlplane server's start sweeps orphans and interrupted copies, and keeps what a version names"
finish
