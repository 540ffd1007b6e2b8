#!/bin/bash
# `mlplane launch`, the step's side of a rendered pod, against a real `mlplane
# server` on loopback: a run submitted with --server uploads its local input by
# the tree hash `mlplane k8s render` names it by; the launcher runs step 1 of the
# rendered pipeline (fetching that input, uploading an output folder and
# metrics.json), then step 2 (fetching step 1's output); hashes match embedded
# mode's; a failing command's status passes through and uploads nothing; a
# wrong hash, a missing output and a bad description are refused. Then
# `--install` and, as root, a real step in a chroot holding nothing but the
# installed launcher.
. "$(dirname "$0")/lib.sh"

SERVER_HOME="$T_DIR/server-home"
mkdir -p "$SERVER_HOME"
MLPLANE_HOME="$SERVER_HOME" start_server
ART="$SERVER_HOME/artifacts"

P="$T_DIR/proj"
mkdir -p "$P/data"
cp "$MLPLANE_SRC/examples/data/breast_cancer.csv" "$P/data/bc.csv"
cat >"$P/p.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: launchy}
spec:
  steps:
    - name: prep
      command: [sh, -c, 'mkdir -p feats/sub && cp "$0" feats/data.csv && wc -l <"$0" | tr -d " " >feats/sub/rows && echo "{\"rows\": $(cat feats/sub/rows)}" >metrics.json && echo prep-stdout && echo prep-stderr >&2', "{{inputs.data}}"]
      inputs: [{name: data, path: data/bc.csv}]
      outputs: [{name: feats, path: feats}]
    - name: use
      command: [sh, -c, 'cat "$0/sub/rows" >rows.txt && cmp "$0/data.csv" "$1/data.csv"', "{{steps.prep.outputs.feats}}", "{{inputs.f}}"]
      inputs: [{name: f, path: "{{steps.prep.outputs.feats}}"}]
      outputs: [{name: rows, path: rows.txt}]
YAML

# --- submit: the local input is uploaded, and recorded under the render's hash ---
out=$(cd "$P" && "$MLPLANE" --server "$SERVER_URL" run p.yaml 2>"$T_DIR/err") || fail "submit: $(cat "$T_DIR/err")"
run=$(head -1 <<<"$out")
assert_contains "$out" "Succeeded" "the run submitted to the server succeeded"
mlp k8s render --server "$SERVER_URL" -o json "$P/p.yaml" >"$T_DIR/jobs.json" 2>/dev/null
job() { jq --arg n "launchy-$1" '.items[] | select(.metadata.name == $n)' "$T_DIR/jobs.json"; }
ann() { job "$1" | jq -r '.spec.template.metadata.annotations["mlplane.dev/artifacts"]'; }
hex=$(ann prep | jq -r '.inputs[0].sha256')
[ -f "$ART/mlplane/trees/${hex:0:2}/$hex.json" ] || fail "no manifest for the render's hash $hex: $(find "$ART" -name '*.json')"
blob=$(jq -r '.entries[0].chunks[0]' "$ART/mlplane/trees/${hex:0:2}/$hex.json")
assert_eq "$blob" "$(sha256sum "$P/data/bc.csv" | cut -d' ' -f1)" "the manifest names the blob submit sent"
assert_eq "$(job prep | jq -r '.spec.template.spec.containers[0].env[] | select(.name == "MLPLANE_ARTIFACTS") | .valueFrom.fieldRef.fieldPath')" \
  "metadata.annotations['mlplane.dev/artifacts']" "the pod sees its annotation as MLPLANE_ARTIFACTS"
ok "submit records the local input under the tree hash the render names ($hex)"

# launch_step STEP WORK RUN [COMMAND...]: the rendered pod's step, run here with
# its paths moved from /mlplane/work to WORK (the command's too, unless given).
launch_step() {
  local step=$1 work=$2 rid=$3; shift 3
  local a
  a=$(ann "$step")
  local -a cmd
  if [ $# -gt 0 ]; then cmd=("$@"); else
    mapfile -t cmd < <(job "$step" | jq -r '.spec.template.spec.containers[0].command[6:][]' | sed "s#/mlplane/work#$work#g")
  fi
  mkdir -p "$work"
  MLPLANE_ARTIFACTS="$a" MLPLANE_RUN_ID="$rid" MLPLANE_STEP="$step" MLPLANE_SERVER="$SERVER_URL" \
    MLPLANE_WORK="$work" MLPLANE_OUTPUTS="$work/outputs" MLPLANE_LAUNCH_RETRIES=2 \
    "$MLPLANE" launch -- "${cmd[@]}"
}
rec() { cat "$ART/mlplane/runs/$1/steps/$2/$3"; }

# --- step 1: input fetched and checked, command run, output folder and metrics uploaded ---
launch_step prep "$T_DIR/w1" r1 >"$T_DIR/out1" 2>"$T_DIR/err1" || fail "step 1: $(cat "$T_DIR/err1")"
assert_contains "$(cat "$T_DIR/out1")" "prep-stdout" "the command's stdout streams through"
assert_contains "$(cat "$T_DIR/err1")" "prep-stderr" "the command's stderr streams through"
cmp "$T_DIR/w1/inputs/data" "$P/data/bc.csv" || fail "the input fetched is the file submitted"
feats=$(rec r1 prep outputs/feats.json | jq -r .sha256)
assert_eq "$(rec r1 prep outputs/feats.json | jq -r .kind)" "dir" "an output folder"
assert_eq "$(rec r1 prep metrics.json | jq -r .rows)" "570" "metrics.json uploaded"
assert_eq "$(rec r1 prep launch.json | jq -r '.exit_status, .outputs.feats' | tr '\n' ' ')" "0 $feats " "the step's record"
# the same hash as embedded mode's: render a spec whose local input is the folder the embedded run wrote
embedded="$SERVER_HOME/runs/$run/prep/feats"
[ -d "$embedded" ] || fail "no embedded output at $embedded"
cat >"$T_DIR/h.yaml" <<YAML
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: h}
spec:
  steps:
    - {name: s, command: ["true"], inputs: [{name: x, path: "$embedded"}]}
YAML
want=$(mlp k8s render -o json "$T_DIR/h.yaml" 2>/dev/null | jq -r '.items[] | select(.kind == "Job") | .spec.template.metadata.annotations["mlplane.dev/artifacts"] | fromjson | .inputs[0].sha256')
assert_eq "$feats" "$want" "the output's hash is the step cache's hash of the embedded run's output"
ok "step 1 fetches its input, runs, uploads its output folder (hash $feats as embedded) and metrics.json"

# --- step 2: step 1's output fetched (and linked as an input) ---
launch_step use "$T_DIR/w2" r1 >"$T_DIR/out2" 2>"$T_DIR/err2" || fail "step 2: $(cat "$T_DIR/err2")"
diff -r "$T_DIR/w2/steps/prep/feats" "$T_DIR/w1/outputs/feats" || fail "step 1's output fetched whole"
assert_eq "$(readlink "$T_DIR/w2/inputs/f")" "$T_DIR/w2/steps/prep/feats" "an input from an upstream output links to it"
assert_eq "$(tr -d '\n' <"$T_DIR/w2/outputs/rows.txt")" "570" "step 2 read step 1's output"
rows=$(rec r1 use outputs/rows.json | jq -r .sha256)
[ "$(ls "$ART/mlplane/trees/${rows:0:2}/$rows.json")" ] || fail "step 2's output manifest"
# run again: what is there already is kept, the outputs folder emptied first
touch "$T_DIR/w2/outputs/stale"
launch_step use "$T_DIR/w2" r1 >/dev/null 2>"$T_DIR/err2" || fail "step 2 again: $(cat "$T_DIR/err2")"
[ ! -e "$T_DIR/w2/outputs/stale" ] || fail "the outputs folder is emptied before the command"
ok "step 2 fetches step 1's output by its record, and runs again the same"

# --- a failing command: its status, nothing uploaded ---
set +e
launch_step prep "$T_DIR/w3" r2 sh -c 'mkdir -p feats; echo "{}" >metrics.json; exit 3' >/dev/null 2>"$T_DIR/err3"; rc=$?
set -e
assert_eq "$rc" "3" "a failing command's status"
assert_contains "$(cat "$T_DIR/err3")" "ended with status 3: its outputs are not uploaded" "said"
[ ! -e "$ART/mlplane/runs/r2" ] || fail "a failed step uploads nothing: $(find "$ART/mlplane/runs/r2")"
set +e
launch_step prep "$T_DIR/w3" r2 sh -c 'kill -TERM $$' >/dev/null 2>&1; rc=$?
set -e
assert_eq "$rc" "143" "a command ended by SIGTERM: 128+15"
set +e
launch_step prep "$T_DIR/w3" r2 no-such-program-here >/dev/null 2>"$T_DIR/err3"; rc=$?
set -e
assert_eq "$rc" "127" "a command that is not found"
# the description from a file (a downwardAPI volume) instead of the env
ann prep >"$T_DIR/artifacts.json"
set +e
MLPLANE_ARTIFACTS_FILE="$T_DIR/artifacts.json" MLPLANE_RUN_ID=r2 MLPLANE_STEP=prep MLPLANE_SERVER="$SERVER_URL" \
  MLPLANE_WORK="$T_DIR/w3f" "$MLPLANE" launch -- sh -c 'test -s ../inputs/data && exit 5' >/dev/null 2>&1; rc=$?
set -e
assert_eq "$rc" "5" "MLPLANE_ARTIFACTS_FILE read, the input fetched, the status passed"
ok "a failing command's status passes through (signals as 128+N) and nothing is uploaded"

# --- refused: a declared output not written, an unknown or lying hash, a bad description ---
set +e
launch_step prep "$T_DIR/w4" r3 true >/dev/null 2>"$T_DIR/err4"; rc=$?
set -e
assert_eq "$rc" "1" "a missing output fails the launch"
assert_contains "$(cat "$T_DIR/err4")" "outputs.feats: the command succeeded but did not write" "what is missing"
[ ! -e "$ART/mlplane/runs/r3/steps/prep/launch.json" ] || fail "no record of success"
bad=$(printf '%064d' 0)
set +e
MLPLANE_ARTIFACTS=$(ann prep | jq -c --arg h "$bad" '.inputs[0].sha256 = $h') MLPLANE_RUN_ID=r4 MLPLANE_STEP=prep \
  MLPLANE_SERVER="$SERVER_URL" MLPLANE_WORK="$T_DIR/w5" "$MLPLANE" launch -- true 2>"$T_DIR/err5"; rc=$?
set -e
assert_eq "$rc" "1" "an unknown hash"
assert_contains "$(cat "$T_DIR/err5")" "inputs.data: the server has no artifact with tree hash $bad" "said"
[ ! -e "$T_DIR/w5/outputs" ] || [ -z "$(ls "$T_DIR/w5/outputs")" ] || fail "nothing ran"
# a manifest stored under a hash its content does not have
lie=$(printf 'ab%062d' 0)
mkdir -p "$ART/mlplane/trees/ab"
jq -c --arg h "$lie" '.sha256 = $h' "$ART/mlplane/trees/${hex:0:2}/$hex.json" >"$ART/mlplane/trees/ab/$lie.json"
set +e
MLPLANE_ARTIFACTS=$(ann prep | jq -c --arg h "$lie" '.inputs[0].sha256 = $h') MLPLANE_RUN_ID=r4 MLPLANE_STEP=prep \
  MLPLANE_SERVER="$SERVER_URL" MLPLANE_WORK="$T_DIR/w5" "$MLPLANE" launch -- touch "$T_DIR/ran" 2>"$T_DIR/err5"; rc=$?
set -e
assert_eq "$rc" "1" "a wrong hash"
assert_contains "$(cat "$T_DIR/err5")" "hashes to $hex: refused" "said"
[ ! -e "$T_DIR/ran" ] || fail "the command ran with a wrong input"
[ ! -e "$T_DIR/w5/inputs/data" ] && [ ! -e "$T_DIR/w5/inputs/data.partial" ] || fail "a refused input is not left behind"
set +e
MLPLANE_ARTIFACTS='{"inputs": [{"name": "x", "sha256": "12"}]}' MLPLANE_RUN_ID=r4 MLPLANE_STEP=prep \
  MLPLANE_SERVER="$SERVER_URL" "$MLPLANE" launch -- true 2>"$T_DIR/err6"; rc=$?
set -e
assert_eq "$rc" "1" "a bad description"
assert_contains "$(cat "$T_DIR/err6")" "MLPLANE_ARTIFACTS: inputs[0].sha256 \"12\" is not a SHA-256" "the field said"
set +e
env -u MLPLANE_RUN_ID "$MLPLANE" launch -- true 2>"$T_DIR/err6"; rc=$?
set -e
assert_eq "$rc" "1" "no run id"
assert_contains "$(cat "$T_DIR/err6")" "MLPLANE_RUN_ID is not set" "what is missing"
# an upload the server refuses: the launch fails, the step is not recorded as done
mkdir -p "$ART/mlplane/runs/r5/steps/prep/outputs/feats.json"
set +e
launch_step prep "$T_DIR/w7" r5 >/dev/null 2>"$T_DIR/err7"; rc=$?
set -e
assert_eq "$rc" "1" "an upload refused fails the launch, though the command succeeded"
assert_contains "$(cat "$T_DIR/err7")" "outputs/feats.json: the server answered 400" "what failed"
[ ! -e "$ART/mlplane/runs/r5/steps/prep/launch.json" ] || fail "no record of success with an output lost"
# a server that does not answer: tried again, then a failure that says so
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 9)
set +e
MLPLANE_ARTIFACTS=$(ann prep) MLPLANE_RUN_ID=r4 MLPLANE_STEP=prep MLPLANE_SERVER="http://127.0.0.1:$port" \
  MLPLANE_WORK="$T_DIR/w6" MLPLANE_LAUNCH_RETRIES=1 "$MLPLANE" launch -- touch "$T_DIR/ran" 2>"$T_DIR/err6"; rc=$?
set -e
assert_eq "$rc" "1" "no server"
assert_contains "$(cat "$T_DIR/err6")" "trying again in 250 ms" "a transient failure is tried again"
assert_contains "$(cat "$T_DIR/err6")" "(tried 2 times)" "then given up, said"
[ ! -e "$T_DIR/ran" ] || fail "the command ran without its input"
ok "a missing output, an unknown or wrong input hash, a bad description and an unreachable server are refused"

# --- --install: a launcher of its own; twice the same; from the installed one the same ---
R="$T_DIR/root"
mlp launch --install "$R/mlplane/bin" 2>"$T_DIR/inst" || fail "install: $(cat "$T_DIR/inst")"
for f in mlplane ld.so lib/libc.so.6 lib/libcurl.so.4 lib/libxgboost.so.0; do
  [ -f "$R/mlplane/bin/$f" ] || fail "--install wrote no $f: $(ls -R "$R/mlplane/bin")"
done
cmp "$R/mlplane/bin/mlplane" "$MLPLANE" || fail "the binary copied"
(cd "$R/mlplane/bin" && find . -type f | sort | xargs sha256sum) >"$T_DIR/inst1"
mlp launch --install "$R/mlplane/bin" 2>/dev/null || fail "install again"
(cd "$R/mlplane/bin" && find . -type f | sort | xargs sha256sum) >"$T_DIR/inst2"
diff "$T_DIR/inst1" "$T_DIR/inst2" || fail "an install run twice gives the same folder"
B="$R/mlplane/bin"
"$B/ld.so" --library-path "$B/lib" "$B/mlplane" launch --install "$T_DIR/again" 2>/dev/null || fail "install from the installed launcher"
(cd "$T_DIR/again" && find . -type f | sort | xargs sha256sum) >"$T_DIR/inst3"
diff "$T_DIR/inst1" "$T_DIR/inst3" || fail "the installed launcher installs itself the same"
set +e
mlp launch --install /proc/no-such/dir 2>"$T_DIR/err7"; rc=$?
set -e
assert_eq "$rc" "1" "an install that cannot write"
assert_contains "$(cat "$T_DIR/err7")" "launch --install /proc/no-such/dir: cannot" "said"
ok "--install copies the binary, its loader and libraries, the same each time"

# --- a real step in a folder holding nothing but the launcher ---
CHROOT=$(command -v chroot || true)
if [ "$(id -u)" != 0 ] || [ -z "$CHROOT" ]; then
  echo "skip - the chroot step needs root and chroot (uid $(id -u), chroot: ${CHROOT:-none})"
  finish
  exit 0
fi
if ! "$CHROOT" "$R" /mlplane/bin/ld.so --library-path /mlplane/bin/lib /mlplane/bin/mlplane version >/dev/null 2>&1; then
  echo "skip - chroot is refused here (no CAP_SYS_CHROOT?)"
  finish
  exit 0
fi
cat >"$P/x.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: xg}
spec:
  steps:
    - name: train
      command: [mlplane, xgb, train, --train, "{{inputs.data}}", --rounds, "5", --nthread, "1",
                --model, model.json, --history, metrics.json]
      inputs: [{name: data, path: data/bc.csv}]
      outputs: [{name: model, path: model.json}]
YAML
(cd "$P" && "$MLPLANE" --server "$SERVER_URL" run x.yaml >/dev/null 2>"$T_DIR/err") || fail "submit x: $(cat "$T_DIR/err")"
mlp k8s render --server "$SERVER_URL" -o json "$P/x.yaml" 2>/dev/null |
  jq '.items[] | select(.kind == "Job")' >"$T_DIR/xjob.json"
a=$(jq -r '.spec.template.metadata.annotations["mlplane.dev/artifacts"]' "$T_DIR/xjob.json")
# the pod's command as rendered, the step's own `mlplane` being the installed one (nothing else is there)
mapfile -t cmd < <(jq -r '.spec.template.spec.containers[0].command[]' "$T_DIR/xjob.json")
assert_eq "${cmd[*]:0:6}" "/mlplane/bin/ld.so --library-path /mlplane/bin/lib /mlplane/bin/mlplane launch --" "the rendered command"
step=("${cmd[@]:6}")
[ "${step[0]}" = mlplane ] || fail "the step's command: ${step[*]}"
step=(/mlplane/bin/ld.so --library-path /mlplane/bin/lib /mlplane/bin/mlplane "${step[@]:1}")
mkdir -p "$R/mlplane/work"
[ "$(ls -A "$R")" = mlplane ] || fail "the root holds only the launcher: $(ls -A "$R")"
env -i MLPLANE_ARTIFACTS="$a" MLPLANE_RUN_ID=rx MLPLANE_STEP=train MLPLANE_SERVER="$SERVER_URL" \
  ${MLPLANE_TOKEN:+"MLPLANE_TOKEN=$MLPLANE_TOKEN"} MLPLANE_OUTPUTS=/mlplane/work/outputs "$CHROOT" "$R" "${cmd[@]:0:6}" "${step[@]}" >"$T_DIR/outx" 2>"$T_DIR/errx" ||
  fail "the step in a chroot: $(cat "$T_DIR/errx")"
m=$(rec rx train outputs/model.json | jq -r .sha256)
[ -f "$ART/mlplane/trees/${m:0:2}/$m.json" ] || fail "the model's manifest"
cmp "$R/mlplane/work/outputs/model.json" <(cat "$SERVER_HOME"/uploads/sha256/*/"$(jq -r '.entries[0].chunks[0]' "$ART/mlplane/trees/${m:0:2}/$m.json")") ||
  fail "the model uploaded is the one trained"
rec rx train metrics.json | jq -e 'type == "object"' >/dev/null || fail "metrics.json of the chroot step"
ok "a real step (xgb train) runs in a chroot holding only the installed launcher"
finish
