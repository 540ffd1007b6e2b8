#!/bin/bash
# Runs submitted to a server take their local inputs along: the flagship example
# through `mlplane server` (its own home) from other folders with another local
# home, content-addressed uploads sent once, missing inputs refused at submit
# time with their position, workingDir scripts and input folders, the uploads
# API's checks, a refused param said once, and models / get experiments / get
# nodes through the server as they are locally.
. "$(dirname "$0")/lib.sh"

SERVER_HOME="$T_DIR/server-home"
mkdir -p "$SERVER_HOME"
MLPLANE_HOME="$SERVER_HOME" start_server
# From here on the client's home is another, empty folder: nothing may be read from it.
export MLPLANE_HOME="$T_DIR/client-home"
S=(--server "$SERVER_URL")
blobs() { find "$SERVER_HOME/uploads" -type f 2>/dev/null | wc -l; }
nruns() { curl -sf "$SERVER_URL/api/v1/runs" | jq length; }

# --- the flagship example, from the repository root, as the README writes it ---
out=$(cd "$MLPLANE_SRC" && "$MLPLANE" "${S[@]}" run examples/breast-cancer/pipeline.yaml 2>"$T_DIR/err") ||
  fail "the example through the server: $(cat "$T_DIR/err")"
run=$(head -1 <<<"$out")
case "$run" in breast-cancer-?????) ;; *) fail "run id first: $out";; esac
assert_contains "$out" "run $run Succeeded in" "the example succeeded"
assert_contains "$(cat "$T_DIR/err")" "local inputs: 1 file (" "one local input found"
assert_contains "$(cat "$T_DIR/err")" "1 sent (" "the data was sent"
assert_eq "$(blobs)" "1" "one blob in the server's store"
want=$(sha256sum "$MLPLANE_SRC/examples/data/breast_cancer.csv" | cut -d' ' -f1)
[ -f "$SERVER_HOME/uploads/sha256/${want:0:2}/$want" ] || fail "the blob is named by its SHA-256"
auc=$(mlp "${S[@]}" get metrics "$run" -o json | jq -r '.[] | select(.step=="evaluate" and .key=="auc") | .value')
awk -v a="$auc" 'BEGIN { exit !(a >= 0.95) }' || fail "test AUC through the server: '$auc'"
assert_eq "$(mlp "${S[@]}" models list -o json | jq -r '.[0].name')" "breast-cancer" "registered model through the server"
assert_eq "$(mlp "${S[@]}" models get breast-cancer -o json | jq -r '.model_versions[0].run_id')" "$run" \
  "the version registered by the run"
[ ! -e "$MLPLANE_HOME" ] || fail "the client created a local home"
ok "the flagship example runs through the server (AUC $auc), its data sent with it"

# --- again, from another folder, by absolute path: nothing new is sent ---
mkdir -p "$T_DIR/elsewhere"
out=$(cd "$T_DIR/elsewhere" && "$MLPLANE" "${S[@]}" run "$MLPLANE_SRC/examples/breast-cancer/pipeline.yaml" \
  2>"$T_DIR/err") || fail "second submit: $(cat "$T_DIR/err")"
run2=$(head -1 <<<"$out")
assert_contains "$out" "run $run2 Succeeded in" "second run succeeded"
assert_contains "$(cat "$T_DIR/err")" "0 sent (0 B), 1 already on the server" "an unchanged file is sent once"
assert_eq "$(blobs)" "1" "still one blob"
assert_eq "$(mlp "${S[@]}" get steps "$run2" -o json | jq -r '.[] | select(.name=="split") | .cached_from')" "$run" \
  "the same content hits the cache across submits"
ok "a second submit from another folder sends nothing new"

# --- a missing local input: refused at submit time, at its place in the spec ---
mkdir -p "$T_DIR/proj/bc"
cp "$MLPLANE_SRC/examples/breast-cancer/pipeline.yaml" "$T_DIR/proj/bc/pipeline.yaml"
before=$(nruns)
nsub=$(ls "$SERVER_HOME/submitted" | wc -l)
set +e
(cd "$T_DIR/proj" && "$MLPLANE" "${S[@]}" run bc/pipeline.yaml) >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
set -e
assert_eq "$rc" "2" "missing input exit status"
line=$(grep -n 'path: ../data/breast_cancer.csv' "$T_DIR/proj/bc/pipeline.yaml" | head -1 | cut -d: -f1)
assert_contains "$(cat "$T_DIR/err")" "bc/pipeline.yaml:$line:" "FILE:LINE of the input"
assert_contains "$(cat "$T_DIR/err")" 'spec.steps[0].inputs[0].path: input "data" not found: ../data/breast_cancer.csv' \
  "the path as written"
assert_contains "$(cat "$T_DIR/err")" "nothing was submitted" "closing line"
assert_eq "$(grep -c 'not found' "$T_DIR/err")" "2" "every missing input (two steps read it)"
assert_eq "$(nruns)" "$before" "no run created"
assert_eq "$(ls "$SERVER_HOME/submitted" | wc -l)" "$nsub" "nothing submitted"
ok "a missing local input is an error at submit time, with FILE:LINE:COL"

# --- workingDir scripts, input folders (empty subfolders too), executables, params in paths ---
mkdir -p "$T_DIR/proj2/pipe" "$T_DIR/proj2/conf/empty" "$T_DIR/proj2/conf/sub"
echo "from the helper" >"$T_DIR/proj2/pipe/helper.txt"
printf '#!/bin/sh\necho "script sees: $(cat helper.txt)"\n' >"$T_DIR/proj2/pipe/hello.sh"
chmod +x "$T_DIR/proj2/pipe/hello.sh"
mkdir -p "$T_DIR/proj2/pipe/.git" && echo secret >"$T_DIR/proj2/pipe/.git/config"
echo "a=1" >"$T_DIR/proj2/conf/sub/a.conf"
echo "b=2" >"$T_DIR/proj2/conf/b.conf"
cat >"$T_DIR/proj2/pipe/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: scripts}
spec:
  params: {which: b}
  steps:
    - name: run-script
      workingDir: .
      command: [./hello.sh]
    - name: read-conf
      inputs:
        - {name: conf, path: ../conf}
        - {name: one, path: "../conf/{{params.which}}.conf"}
      script: |
        test -d {{inputs.conf}}/empty
        cat {{inputs.conf}}/sub/a.conf {{inputs.one}}
YAML
out=$(cd / && "$MLPLANE" "${S[@]}" run "$T_DIR/proj2/pipe/p.yaml" 2>"$T_DIR/err") || fail "scripts run: $(cat "$T_DIR/err") $out"
srun=$(head -1 <<<"$out")
assert_eq "$(mlp "${S[@]}" logs "$srun" run-script)" "script sees: from the helper" "a script next to the spec runs there"
assert_eq "$(mlp "${S[@]}" logs "$srun" read-conf | tr '\n' ' ')" "a=1 b=2 " "an input folder and a param in a path"
find "$SERVER_HOME/submitted" -path '*/.git/*' | grep -q . && fail ".git was sent"
assert_contains "$(cat "$T_DIR/err")" "local inputs: 5 files" "hello.sh, helper.txt, p.yaml, a.conf, b.conf"
ok "workingDir scripts, input folders and params in input paths travel with the run"

# --- the uploads API ---
printf 'some bytes' >"$T_DIR/blob"
h=$(sha256sum "$T_DIR/blob" | cut -d' ' -f1)
code() { curl -s -o "$T_DIR/body" -w '%{http_code}' "$@"; }
assert_eq "$(code -X POST "$SERVER_URL/api/v1/uploads/missing" -d "{\"sha256\": [\"$h\", \"$want\"]}")" "200" "missing"
assert_eq "$(jq -c .missing "$T_DIR/body")" "[\"$h\"]" "only the unknown hash is missing"
assert_eq "$(code -X PUT --data-binary 'other bytes' "$SERVER_URL/api/v1/uploads/sha256/$h")" "400" "a body that is not its hash"
assert_contains "$(jq -r .message "$T_DIR/body")" "nothing was stored" "hash mismatch message"
assert_eq "$(code -X PUT --data-binary @"$T_DIR/blob" "$SERVER_URL/api/v1/uploads/sha256/$h")" "201" "stored"
assert_eq "$(code -X PUT --data-binary @"$T_DIR/blob" "$SERVER_URL/api/v1/uploads/sha256/$h")" "200" "already there"
assert_eq "$(curl -sf "$SERVER_URL/api/v1/uploads/sha256/$h")" "some bytes" "GET returns the bytes"
assert_eq "$(code -X POST "$SERVER_URL/api/v1/uploads/missing" -d '{"sha256": ["nothex"]}')" "400" "bad digest"
assert_eq "$(code "$SERVER_URL/api/v1/uploads/sha256/../../etc/passwd")" "404" "not a digest"
spec=$'apiVersion: mlplane.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec: {steps: [{name: a, command: ["true"]}]}\n'
before=$(nruns)
for files in "[{\"path\": \"../x\", \"sha256\": \"$h\"}]" "[{\"path\": \"/etc/x\", \"sha256\": \"$h\"}]" \
             "[{\"path\": \"x\", \"sha256\": \"$(printf '%064d' 0)\"}]"; do
  jq -n --arg s "$spec" --argjson f "$files" '{spec: $s, files: $f}' >"$T_DIR/req.json"
  assert_eq "$(code -X POST "$SERVER_URL/api/v1/runs" --data-binary @"$T_DIR/req.json")" "400" "files $files"
done
assert_contains "$(jq -r .message "$T_DIR/body")" "send it first with PUT /api/v1/uploads/sha256/" "unknown blob message"
assert_eq "$(nruns)" "$before" "no run from a bad files list"
ok "uploads API: missing, PUT checked against its hash, GET, unsafe paths refused"

# --- a refused param: said once, as the local run says it ---
cd "$MLPLANE_SRC"
set +e
local_err=$("$MLPLANE" --home "$T_DIR/scratch-home" run examples/breast-cancer/pipeline.yaml -p nope=1 2>&1 >/dev/null); lrc=$?
remote_err=$("$MLPLANE" "${S[@]}" run examples/breast-cancer/pipeline.yaml -p nope=1 2>&1 >/dev/null); rrc=$?
set -e
cd "$T_DIR"
assert_eq "$rrc" "$lrc" "same exit status"
assert_eq "$remote_err" "$local_err" "same message"
assert_contains "$remote_err" 'mlplane: unknown param "nope" in -p nope=1 (known: ' "the message"
assert_not_contains "$remote_err" "mlplane: mlplane:" "one prefix"
ok "an unknown param through the server: one prefix, the local run's words"

# --- models, get experiments, get nodes: the same through the server as on its home ---
H=(--home "$SERVER_HOME")
# the ended runs' engines let go of what they held (the tables compared below show it)
nodes_idle() { mlp "${H[@]}" get nodes -o json | jq -e 'all(.[]; .workloads == [])'; }
wait_for "the ended runs to hold nothing" 60 nodes_idle
for cmd in "models list" "models get breast-cancer" "get experiments" "get nodes"; do
  for o in json yaml; do
    # shellcheck disable=SC2086
    assert_eq "$(mlp "${S[@]}" $cmd -o $o)" "$(mlp "${H[@]}" $cmd -o $o)" "$cmd -o $o"
  done
  # shellcheck disable=SC2086
  assert_eq "$(mlp "${S[@]}" $cmd)" "$(mlp "${H[@]}" $cmd)" "$cmd table"
done
assert_contains "$(mlp "${S[@]}" get experiments)" "breast-cancer" "experiments table"
mlp "${S[@]}" models list | grep -q "^breast-cancer *1 " || fail "models table: $(mlp "${S[@]}" models list)"
mlp "${S[@]}" get nodes | head -1 | grep -q "^NAME *CPU *MEMORY *GPU *OTHER *WORKLOADS" || fail "nodes header"
set +e
err=$(mlp "${S[@]}" models get nosuch 2>&1); rc=$?
set -e
assert_eq "$rc" "1" "unknown model exit"
assert_contains "$err" "nosuch" "unknown model message"
assert_contains "$err" "(see mlplane models list)" "unknown model hint"
[ ! -e "$MLPLANE_HOME" ] || fail "the client created a local home"
ok "models, get experiments and get nodes through the server match the embedded views"

stop_server "$SERVER_PID" || fail "the server did not exit 0 on SIGTERM"
ok "the server stops cleanly"

finish
