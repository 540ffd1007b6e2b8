#!/bin/bash
# mlplane server over HTTPS: --tls-cert/--tls-key (with a CA and certificates
# made here by openssl), curl and the CLI verifying with --cacert /
# MLPLANE_CACERT and failing without, the certificate replaced and reloaded on
# SIGHUP while the server runs, a broken file on SIGHUP keeping the old one
# serving, and clear start errors for missing, unreadable and mismatched files;
# mlplane serve with the same flags (one process, and a router of replicas).
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || { echo "skip: openssl is not installed (Debian package openssl, in the Makefile's TEST_PKGS)"; exit 0; }
P="$T_DIR/pki"
mkdir -p "$P"

# ---- a CA and two server certificates for 127.0.0.1 and localhost -------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=mlplane test CA" -keyout "$P/ca.key" -out "$P/ca.pem" 2>/dev/null || fail "cannot make the test CA"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$P/ext"
# mkcert NAME CN SERIAL: $P/NAME.pem signed by the CA, its key $P/NAME.key
mkcert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
    -keyout "$P/$1.key" -out "$P/$1.csr" 2>/dev/null || fail "cannot make the key of $1"
  openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -set_serial "$3" -days 2 \
    -extfile "$P/ext" -out "$P/$1.pem" 2>/dev/null || fail "cannot sign $1"
}
mkcert one "mlplane-one" 1001
mkcert two "mlplane-two" 2002
# a self-signed certificate no CA of ours vouches for
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=stranger" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$P/stranger.key" -out "$P/stranger.pem" 2>/dev/null ||
  fail "cannot make the self-signed certificate"

# the files the server reads: replaced (atomically, by rename) to change what it serves
cp "$P/one.pem" "$P/server.pem"
cp "$P/one.key" "$P/server.key"
install_pair() {
  cp "$1" "$P/server.pem.new" && mv "$P/server.pem.new" "$P/server.pem"
  cp "$2" "$P/server.key.new" && mv "$P/server.key.new" "$P/server.key"
}

# ---- start errors: named files, exit status 2, nothing listening ----------------------
start_err() { mlp server --listen 127.0.0.1:0 "$@" 2>&1 >/dev/null; }
set +e
out=$(start_err --tls-cert "$P/server.pem"); rc=$?
set -e
assert_eq "$rc" "2" "--tls-cert without --tls-key"
assert_contains "$out" "--tls-cert and --tls-key go together" "both or neither"
set +e
out=$(start_err --tls-key "$P/server.key"); rc=$?
set -e
assert_eq "$rc" "2" "--tls-key without --tls-cert"
set +e
out=$(start_err --tls-cert "$P/missing.pem" --tls-key "$P/server.key"); rc=$?
set -e
assert_eq "$rc" "2" "a missing certificate file"
assert_contains "$out" "--tls-cert: cannot read $P/missing.pem" "the missing file is named"
set +e
out=$(start_err --tls-cert "$P/server.pem" --tls-key "$P/two.key"); rc=$?
set -e
assert_eq "$rc" "2" "a key of another certificate"
assert_contains "$out" "--tls-key $P/two.key is not the key of the certificate in --tls-cert $P/server.pem" "mismatch named"
set +e
out=$(start_err --tls-cert "$P/server.key" --tls-key "$P/server.key"); rc=$?
set -e
assert_eq "$rc" "2" "a key given as the certificate"
assert_contains "$out" "--tls-cert $P/server.key: not a PEM certificate" "not a certificate"
if [ "$(id -u)" != 0 ]; then # root reads any file
  cp "$P/server.key" "$P/locked.key" && chmod 000 "$P/locked.key"
  set +e
  out=$(start_err --tls-cert "$P/server.pem" --tls-key "$P/locked.key"); rc=$?
  set -e
  assert_eq "$rc" "2" "an unreadable key"
  assert_contains "$out" "--tls-key: cannot read $P/locked.key" "the unreadable file is named"
fi
ok "start refuses missing, mismatched and wrong files, naming each"

# ---- serving HTTPS ---------------------------------------------------------------------
"$MLPLANE" server --listen 127.0.0.1:0 --tls-cert "$P/server.pem" --tls-key "$P/server.key" \
  >"$T_DIR/server.out" 2>"$T_DIR/server.err" &
SERVER_PID=$!
ALL_SERVER_PIDS="$SERVER_PID"
wait_for "the server's first line" 10 grep -q "listening on" "$T_DIR/server.out"
URL=$(sed -n 's/^mlplane server listening on \(https:[^ ]*\) .*/\1/p' "$T_DIR/server.out" | head -1)
[ -n "$URL" ] || fail "no https:// URL in the server's first line: $(cat "$T_DIR/server.out")"
PORT=${URL##*:}
wait_for "the server to be ready over HTTPS" 10 curl -sf --cacert "$P/ca.pem" "$URL/readyz"
ok "mlplane server --tls-cert --tls-key listens on $URL"

assert_eq "$(curl -s --cacert "$P/ca.pem" "$URL/healthz" | jq -r .status)" "ok" "/healthz over HTTPS with the CA"
assert_eq "$(curl -s --cacert "$P/ca.pem" "https://localhost:$PORT/healthz" | jq -r .status)" "ok" "by the name localhost"
set +e
curl -s -o /dev/null "$URL/healthz"; rc=$?
set -e
assert_eq "$rc" "60" "curl without the CA: certificate verification fails (60)"
set +e
curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; rc=$?
set -e
[ "$rc" -ne 0 ] || fail "plain HTTP to the HTTPS port was answered"
ok "curl --cacert verifies the server; without the CA it fails verification; plain HTTP is not served"

# ---- the CLI ---------------------------------------------------------------------------
cat >"$T_DIR/hello.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: hello}
spec:
  steps:
    - {name: a, script: 'echo "tracking=$MLFLOW_TRACKING_URI"'}
YAML
mlp --server "$URL" --cacert "$P/ca.pem" run "$T_DIR/hello.yaml" >"$T_DIR/run.out" 2>&1 ||
  fail "run through the HTTPS server: $(cat "$T_DIR/run.out")"
runs=$(mlp --server "$URL" --cacert "$P/ca.pem" get runs -o json) || fail "get runs with --cacert"
assert_eq "$(jq -r '.[0].state' <<<"$runs")" "Succeeded" "the run, listed over HTTPS"
run_id=$(jq -r '.[0].id' <<<"$runs")
logs=$(mlp --server "$URL" --cacert "$P/ca.pem" logs "$run_id" a) || fail "logs over HTTPS"
assert_contains "$logs" "tracking=https://127.0.0.1:$PORT" "the run's steps get the https:// URL as MLFLOW_TRACKING_URI"
runs=$(mlp get runs -o json --server "$URL" --cacert="$P/ca.pem") || fail "--cacert= after the command"
assert_eq "$(jq length <<<"$runs")" "1" "one run"
runs=$(MLPLANE_CACERT="$P/ca.pem" MLPLANE_SERVER="$URL" mlp get runs -o json) || fail "get runs with MLPLANE_CACERT"
assert_eq "$(jq length <<<"$runs")" "1" "one run through MLPLANE_CACERT"
set +e
out=$(mlp --server "$URL" get runs 2>&1); rc=$?
set -e
assert_eq "$rc" "1" "the CLI without the CA"
assert_contains "$out" "--cacert" "the failure says to pass --cacert"
assert_contains "$out" "not trusted" "the failure says the certificate is not trusted"
set +e
out=$(mlp --server "$URL" --cacert "$P/stranger.pem" get runs 2>&1); rc=$?
set -e
assert_eq "$rc" "1" "the CLI with a CA that did not sign the certificate"
assert_contains "$out" "--cacert $P/stranger.pem" "the failure names the CA file"
set +e
out=$(mlp --server "$URL" --cacert "$P/nothing-here.pem" get runs 2>&1); rc=$?
set -e
assert_eq "$rc" "1" "the CLI with a missing CA file"
assert_contains "$out" "--cacert $P/nothing-here.pem" "the missing CA file is named"
set +e
out=$(mlp serve models:/nope/1 --server "$URL" 2>&1); rc=$?
set -e
assert_eq "$rc" "1" "serve models:/ through the HTTPS server without the CA"
assert_contains "$out" "--cacert" "serve's download says to pass --cacert"
set +e
out=$(mlp serve models:/nope/1 --server "$URL" --cacert "$P/ca.pem" 2>&1); rc=$?
set -e
[ "$rc" -ne 0 ] || fail "serve of a model that is not registered succeeded"
assert_not_contains "$out" "not trusted" "with the CA the download gets through TLS"
assert_contains "$out" "nope" "the server's answer about the missing model"
ok "the CLI verifies with --cacert (or MLPLANE_CACERT), and without it fails saying to pass --cacert"

# ---- reload on SIGHUP --------------------------------------------------------------------
# served_serial: the serial number of the certificate the server presents now
served_serial() {
  openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
served_is() { [ "$(served_serial)" = "$1" ]; }
one=$(openssl x509 -noout -serial -in "$P/one.pem" | sed 's/^serial=//')
two=$(openssl x509 -noout -serial -in "$P/two.pem" | sed 's/^serial=//')
[ "$one" != "$two" ] || fail "the two test certificates have one serial"
assert_eq "$(served_serial)" "$one" "the first certificate served"

install_pair "$P/two.pem" "$P/two.key"
assert_eq "$(served_serial)" "$one" "replacing the files alone changes nothing"
kill -HUP "$SERVER_PID"
wait_for "the server to serve the new certificate after SIGHUP" 10 served_is "$two"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server stopped on SIGHUP"
wait_for "the reload's log line" 10 grep -q "SIGHUP: reloaded the TLS certificate $P/server.pem and key $P/server.key" \
  "$T_DIR/server.err"
assert_eq "$(grep -c 'reloaded the TLS certificate' "$T_DIR/server.err")" "1" "one log line per reload"
subject=$(curl -sv --cacert "$P/ca.pem" -o /dev/null "$URL/healthz" 2>&1 | grep -i 'subject:' || true)
assert_contains "$subject" "mlplane-two" "curl sees the new subject"
runs=$(mlp --server "$URL" --cacert "$P/ca.pem" get runs -o json) || fail "get runs after the reload"
assert_eq "$(jq length <<<"$runs")" "1" "the same server, the same runs"
ok "SIGHUP reloads the certificate and key without a restart (one log line)"

# a broken certificate file: the old pair goes on serving, the error is logged
printf -- '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n' >"$P/server.pem.new"
mv "$P/server.pem.new" "$P/server.pem"
kill -HUP "$SERVER_PID"
wait_for "the failed reload's log line" 10 grep -q "the certificate loaded before goes on serving" "$T_DIR/server.err"
assert_contains "$(grep 'goes on serving' "$T_DIR/server.err")" "--tls-cert $P/server.pem" "the bad file is named"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server stopped on a bad reload"
assert_eq "$(served_serial)" "$two" "the certificate loaded before still serves"
assert_eq "$(curl -s --cacert "$P/ca.pem" "$URL/healthz" | jq -r .status)" "ok" "requests still verified"
# a key of another certificate
cp "$P/two.pem" "$P/server.pem"
cp "$P/one.key" "$P/server.key"
kill -HUP "$SERVER_PID"
wait_for "the mismatched reload's log line" 10 grep -q "is not the key of the certificate" "$T_DIR/server.err"
assert_eq "$(served_serial)" "$two" "a mismatched pair keeps the old one too"
ok "a broken or mismatched pair on SIGHUP keeps the old certificate serving and says why"

# and back: a good pair loads again
install_pair "$P/one.pem" "$P/one.key"
kill -HUP "$SERVER_PID"
wait_for "the first certificate back" 10 served_is "$one"
ok "a good pair after a bad one loads"

stop_server "$SERVER_PID" || fail "the server's exit status on SIGTERM"
ok "SIGTERM still stops the server"

# ---- mlplane serve: the same flags, one process or a router of replicas --------------------
DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
mlp data split "$DATA" --test-fraction 0.2 --seed 42 --train "$T_DIR/train.csv" --test "$T_DIR/test.csv" >/dev/null
mlp xgb train --train "$T_DIR/train.csv" --model "$T_DIR/bc.json" --rounds 5 --max-depth 2 --quiet
set +e
out=$(mlp serve deployment/web --tls-cert "$P/one.pem" --tls-key "$P/one.key" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "serve deployment/NAME with --tls-cert"
assert_contains "$out" "Deployments serve plain HTTP" "the refusal says why"
set +e
out=$(mlp serve "$T_DIR/bc.json" --listen 127.0.0.1:0 --tls-cert "$P/one.pem" --tls-key "$P/two.key" 2>&1); rc=$?
set -e
assert_eq "$rc" "2" "serve with a mismatched pair"
assert_contains "$out" "is not the key of the certificate" "serve names the mismatch"

# start_tls_serve ARGS...: mlplane serve ARGS in the background; SERVE_PID, SERVE_URL, SERVE_ERR
start_tls_serve() {
  local out="$T_DIR/serve.$RANDOM"
  "$MLPLANE" serve "$@" >"$out.out" 2>"$out.err" &
  SERVE_PID=$!
  ALL_SERVER_PIDS="$ALL_SERVER_PIDS $SERVE_PID"
  SERVE_ERR="$out.err"
  wait_for "mlplane serve's first line" 30 grep -q "listening on" "$out.out"
  SERVE_URL=$(sed -n 's/^mlplane serve listening on \(https:[^ ]*\) .*/\1/p' "$out.out" | head -1)
  [ -n "$SERVE_URL" ] || fail "no https:// URL in mlplane serve's first line: $(cat "$out.out")"
  wait_for "mlplane serve to be ready over HTTPS" 30 curl -sf --cacert "$P/ca.pem" "$SERVE_URL/v2/health/ready"
}
install_pair "$P/one.pem" "$P/one.key"
start_tls_serve "$T_DIR/bc.json" --listen 127.0.0.1:0 --name bc --tls-cert "$P/server.pem" --tls-key "$P/server.key"
PORT=${SERVE_URL##*:}
assert_eq "$(served_serial)" "$one" "serve presents the certificate"
set +e
curl -s -o /dev/null "$SERVE_URL/v2/health/ready"; rc=$?
set -e
assert_eq "$rc" "60" "serve: curl without the CA fails verification"
install_pair "$P/two.pem" "$P/two.key"
kill -HUP "$SERVE_PID"
wait_for "serve to present the new certificate after SIGHUP" 10 served_is "$two"
wait_for "serve's reload line" 10 grep -q "mlplane serve: SIGHUP: reloaded the TLS certificate" "$SERVE_ERR"
curl -sf --cacert "$P/ca.pem" "$SERVE_URL/v2/models/bc" >/dev/null || fail "serve's model endpoint after the reload"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve's exit status on SIGTERM"
ok "mlplane serve --tls-cert --tls-key serves HTTPS and reloads on SIGHUP"

start_tls_serve "$T_DIR/bc.json" --listen 127.0.0.1:0 --name bc --replicas 2 --tls-cert "$P/server.pem" --tls-key "$P/server.key"
PORT=${SERVE_URL##*:}
assert_eq "$(served_serial)" "$two" "the router presents the certificate"
curl -sf --cacert "$P/ca.pem" "$SERVE_URL/metrics" >/dev/null || fail "the router's /metrics over HTTPS"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "the router's exit status on SIGTERM"
ok "mlplane serve --replicas: the router serves HTTPS (its replicas stay on their unix sockets)"
finish
