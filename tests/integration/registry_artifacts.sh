#!/bin/bash
# Registered model versions own their files: a pipeline with `register:` makes
# version 1 of model bc, its source is a file in the home's content-addressed
# artifact store (HOME/artifacts/sha256/HE/HEX/model.json, HEX the SHA-256 of its
# bytes), and once the run folder is deleted, mlplane serve models:/bc/1 still
# answers an OIP v2 infer with the version's own prediction.
. "$(dirname "$0")/lib.sh"

register_bc 10
S1=$(bc_source 1)
hex=$(sha256sum "$S1" | cut -d' ' -f1)
assert_eq "$S1" "$MLPLANE_HOME/artifacts/sha256/${hex:0:2}/$hex/model.json" "the version's source"
ok "a registered version's source is HOME/artifacts/sha256/HE/HEX/model.json"

run=$(mlp get runs -o json | jq -r '.[0].id')
[ -d "$MLPLANE_HOME/runs/$run" ] || fail "run folder $run not found"
rm -rf "$MLPLANE_HOME/runs/$run"
start_serve models:/bc/1 --listen 127.0.0.1:0
curl -sf -o "$T_DIR/r.json" -XPOST "$SERVE_URL/v2/models/bc/versions/1/infer" -d @"$T_DIR/one.json" || fail "infer"
assert_eq "$(grep -o '"data":\[[^]]*\]' "$T_DIR/r.json")" "\"data\":[$P1]" "the version's own prediction"
stop_server "$SERVE_PID" || fail "serve exit status"
ok "models:/bc/1 serves after its run folder is deleted"
finish
