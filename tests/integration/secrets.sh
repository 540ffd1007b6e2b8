#!/usr/bin/env bash
# Secrets: kind Secret applied with its values encrypted at rest (XChaCha20-Poly1305,
# a key from a key file or MLPLANE_SECRET_KEY, never in the home), given to a real
# step as an env var (valueFrom.secretKeyRef) and a file (secretFiles), masked in its
# log; the plain values absent from the SQLite file, its WAL, every log under the
# home and every API answer (the bytes grepped); a wrong key refused with its key id;
# rotate-key re-encrypting every value, after which the old key is refused.
. "$(dirname "$0")/lib.sh"

# values no test could write by chance; the file's value has two lines
PW="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')-Zq"
TOKEN="tok-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')-Wv"
LINE2="line2-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN_B64=$(printf %s "$TOKEN" | base64 -w0)
PW_SHA=$(printf %s "$PW" | sha256sum | cut -d' ' -f1)

# every form a value could take in a file: plain, the file's second line, base64
absent_everywhere() { # absent_everywhere WHERE FILES...: none of the plain values in FILES
  local where=$1; shift
  for v in "$PW" "$TOKEN" "$LINE2" "$TOKEN_B64"; do
    if grep -a -r -l -F -- "$v" "$@" 2>/dev/null; then fail "a secret value is in plain text in $where"; fi
  done
}

KEY="$T_DIR/key"
head -c 32 /dev/urandom | base64 >"$KEY"
chmod 600 "$KEY"
KEY2="$T_DIR/key2"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEY2"
chmod 600 "$KEY2"

cat >"$T_DIR/secret.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: db
type: Opaque
data:
  token: $TOKEN_B64
stringData:
  password: "$PW"
  cert: |
    -----BEGIN TEST-----
    $LINE2
EOF

cat >"$T_DIR/pipeline.yaml" <<'EOF'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata:
  name: uses-secrets
spec:
  steps:
    - name: use
      env:
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: db, key: password}
        API_TOKEN_PLAIN: not-a-secret
      secretFiles:
        - {secretRef: db, key: cert, path: tls/cert.pem}
        - {secretRef: db, key: token}
      outputs:
        - {name: proof, path: proof.txt}
      script: |
        echo "password is $DB_PASSWORD"
        echo "and again, glued:${DB_PASSWORD}end"
        cat "$MLPLANE_SECRETS/tls/cert.pem"
        cat "$MLPLANE_SECRETS/token"; echo
        stat -c '%a %n' "$MLPLANE_SECRETS/tls/cert.pem" | sed "s#$MLPLANE_SECRETS#S#"
        printf %s "$DB_PASSWORD" | sha256sum | cut -d' ' -f1 > proof.txt
        n=$(wc -c < "$MLPLANE_SECRETS/token")
        echo "{\"token_bytes\": $n}" > "$MLPLANE_OUTPUTS/metrics.json"
        echo "key vars seen: $(env | grep -c '^MLPLANE_SECRET_KEY' || true)"
EOF
# the env mapping form mixed with the list form is not valid YAML for one field: keep the list form only
sed -i '/API_TOKEN_PLAIN/d' "$T_DIR/pipeline.yaml"

# ---- without a key: refused, saying how to give one; nothing stored -------------------------
out=$(mlp apply -f "$T_DIR/secret.yaml" 2>&1) && fail "a Secret applied without a key"
assert_contains "$out" "cannot be stored encrypted" "no key"
assert_contains "$out" "--secret-key-file" "the message says how to give a key"
assert_contains "$out" "MLPLANE_SECRET_KEY" "the message names the variable"
ok "apply without a key is refused with how to give one"

chmod 644 "$KEY"
out=$(mlp --secret-key-file "$KEY" apply -f "$T_DIR/secret.yaml" 2>&1) && fail "a world-readable key file was used"
assert_contains "$out" "chmod 600" "a readable key file"
chmod 600 "$KEY"
ok "a key file other users may read is refused"

# ---- applied with the key, listed without values --------------------------------------------
mlp --secret-key-file "$KEY" apply -f "$T_DIR/secret.yaml" >/dev/null
out=$(mlp get secrets)
assert_contains "$out" "db" "get secrets"
out=$(mlp describe secret db)
assert_contains "$out" "password:" "describe lists keys"
assert_contains "$out" "$(printf %s "$PW" | wc -c | tr -d ' ') bytes" "describe gives sizes"
assert_not_contains "$out" "$PW" "describe shows no value"
for o in json yaml; do
  out=$(mlp get secrets -o $o)
  assert_not_contains "$out" "$PW" "get secrets -o $o"
  assert_not_contains "$out" "$TOKEN_B64" "get secrets -o $o"
done
[ "$(mlp describe secret default/db -o json | jq -r '[.keys[].key] | join(",")')" = "cert,password,token" ] ||
  fail "describe -o json keys"
ok "get secrets and describe secret show keys and sizes, no values"

# a run file holding a Secret is refused: a run keeps its spec's text
cat "$T_DIR/secret.yaml" >"$T_DIR/both.yaml"
printf -- '---\n' >>"$T_DIR/both.yaml"
cat "$T_DIR/pipeline.yaml" >>"$T_DIR/both.yaml"
out=$(mlp --secret-key-file "$KEY" run "$T_DIR/both.yaml" 2>&1) && fail "a run of a file holding a Secret"
assert_contains "$out" "apply it first" "run with a Secret in the file"
ok "mlplane run refuses a file that holds a Secret"

# ---- a real step gets them ---------------------------------------------------------------------
out=$(mlp --secret-key-file "$KEY" run "$T_DIR/pipeline.yaml" 2>&1) || fail "run: $out"
RUN=$(mlp get runs -o json | jq -r '.[0].id')
assert_eq "$(run_state "$RUN")" "Succeeded" "the run"
OUTS=$(step_field "$RUN" use outputs_dir)
assert_eq "$(cat "$OUTS/proof.txt")" "$PW_SHA" "the step saw the right password (its sha256)"
TB=$(printf %s "$TOKEN" | wc -c | tr -d ' ')
assert_eq "$(mlp get metrics "$RUN" -o json | jq -r '.[] | select(.key=="token_bytes") | .value' | cut -d. -f1)" "$TB" \
  "the step read the token file"
LOG=$(mlp logs "$RUN" use)
assert_contains "$LOG" "password is ***" "the env value masked in the log"
assert_contains "$LOG" "glued:***end" "masked inside a line"
assert_contains "$LOG" "400 S/tls/cert.pem" "the secret file is mode 0400"
assert_contains "$LOG" "key vars seen: 0" "the key's variables never reach a step"
assert_not_contains "$LOG" "$PW" "the log"
assert_not_contains "$LOG" "$LINE2" "the log (the file's line)"
[ ! -e "$OUTS.secrets" ] || fail "the step's secret files were left behind: $(ls -R "$OUTS.secrets")"
ok "a step gets the env var and the files, its log shows ***, the files are removed after it"

# a missing Secret or key fails the step before it starts
sed -e 's/key: password/key: nope/' -e 's/name: uses-secrets/name: bad-key/' "$T_DIR/pipeline.yaml" >"$T_DIR/bad.yaml"
mlp --secret-key-file "$KEY" run "$T_DIR/bad.yaml" >/dev/null 2>&1 && fail "a missing key ran"
BAD=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="bad-key") | .id' | head -1)
msg=$(step_field "$BAD" use message)
assert_contains "$msg" 'has no key "nope"' "missing key"
assert_not_contains "$(mlp logs "$BAD" use 2>&1 || true)" "password is" "the step never started"
sed -e 's/name: db, key: password/name: other, key: password/' -e 's/name: uses-secrets/name: bad-secret/' \
  "$T_DIR/pipeline.yaml" >"$T_DIR/bad2.yaml"
mlp --secret-key-file "$KEY" run "$T_DIR/bad2.yaml" >/dev/null 2>&1 && fail "a missing Secret ran"
BAD2=$(mlp get runs -o json | jq -r '.[] | select(.pipeline=="bad-secret") | .id' | head -1)
assert_contains "$(step_field "$BAD2" use message)" 'Secret "other" is not applied' "missing Secret"
ok "a missing Secret or key fails the step before it starts, saying which"

# ---- through the server: apply, run, read everything back ---------------------------------------
start_server --secret-key-file "$KEY"
sed -e "s/name: db/name: api-db/" "$T_DIR/secret.yaml" >"$T_DIR/api-secret.yaml"
mlp --server "$SERVER_URL" apply -f "$T_DIR/api-secret.yaml" >"$T_DIR/api.apply" 2>&1 ||
  fail "apply through the server: $(cat "$T_DIR/api.apply")"
sed -e 's/name: db/name: api-db/g' -e 's/secretRef: db/secretRef: api-db/g' -e 's/name: uses-secrets/name: via-api/' \
  "$T_DIR/pipeline.yaml" >"$T_DIR/api-pipeline.yaml"
API_RUN=$(mlp --server "$SERVER_URL" run --detach "$T_DIR/api-pipeline.yaml" | tail -1)
wait_for "the run through the server to end" 120 sh -c "[ \"\$('$MLPLANE' get runs -o json | jq -r --arg id '$API_RUN' '.[] | select(.id==\$id) | .state')\" = Succeeded ]"
API_OUTS=$(step_field "$API_RUN" use outputs_dir)
assert_eq "$(cat "$API_OUTS/proof.txt")" "$PW_SHA" "the server's run saw the right password"
mkdir -p "$T_DIR/answers"
i=0
for path in /api/v1/runs "/api/v1/runs/$RUN" "/api/v1/runs/$RUN/steps" "/api/v1/runs/$RUN/metrics" \
  "/api/v1/runs/$RUN/logs?step=use" "/api/v1/runs/$API_RUN" "/api/v1/runs/$API_RUN/logs?step=use" \
  /api/v1/pipelines /api/v1/deployments /api/v1/monitors /api/v1/nodes /metrics \
  "/api/2.0/mlflow/runs/get?run_id=$RUN" "/api/2.0/mlflow/experiments/search?max_results=100"; do
  i=$((i + 1))
  curl -s "$SERVER_URL$path" >"$T_DIR/answers/$i"
  [ -s "$T_DIR/answers/$i" ] || fail "no answer from $path"
done
curl -s -X POST -H 'Content-Type: application/json' -d '{"max_results": 100}' \
  "$SERVER_URL/api/2.0/mlflow/runs/search" >"$T_DIR/answers/search"
grep -F '***' "$T_DIR/answers/5" >/dev/null || fail "the log through the API is not masked: $(head -c 300 "$T_DIR/answers/5")"
absent_everywhere "the API's answers" "$T_DIR/answers"
absent_everywhere "the apply's answer" "$T_DIR/api.apply"
ok "through the server: apply and a run work, no API answer holds a value"

# ---- the bytes of the home: the SQLite file, its WAL, every log -----------------------------------
ls "$MLPLANE_HOME"/mlplane.db >/dev/null
[ -e "$MLPLANE_HOME/mlplane.db-wal" ] || fail "no WAL to check (the server keeps the store open)"
absent_everywhere "the SQLite file or its WAL" "$MLPLANE_HOME"/mlplane.db*
absent_everywhere "a log" $(find "$MLPLANE_HOME" -name '*.log')
absent_everywhere "the home" "$MLPLANE_HOME"
ok "no value in plain text in the SQLite file, its WAL, the logs or anywhere in the home"
stop_server "$SERVER_PID" || true

# ---- a wrong key is refused, naming key ids ----------------------------------------------------
out=$(mlp --secret-key-file "$KEY2" run "$T_DIR/pipeline.yaml" 2>&1) && fail "ran with the wrong key"
W=$(mlp get runs -o json | jq -r '.[0].id')
msg=$(step_field "$W" use message)
assert_contains "$msg" "encrypted with key id" "wrong key"
assert_not_contains "$(mlp logs "$W" use 2>&1 || true)" "password is" "the step never started with the wrong key"
out=$(MLPLANE_SECRET_KEY=not-a-key mlp run "$T_DIR/pipeline.yaml" 2>&1) && fail "ran with a malformed key"
ok "a wrong key is refused with the key ids, before the step starts"

sed -e "s/name: db/name: third/" "$T_DIR/secret.yaml" >"$T_DIR/third.yaml"
out=$(mlp --secret-key-file "$KEY2" apply -f "$T_DIR/third.yaml" 2>&1) && fail "a second key applied"
assert_contains "$out" "is not the one the applied Secrets are encrypted with" "one key per home"
ok "a Secret cannot be applied with another key than the home's other Secrets"

# ---- rotate-key: every value under the new key, the old one refused -------------------------------
out=$(mlp --secret-key-file "$KEY" secrets rotate-key --new-key-file "$KEY2")
assert_contains "$out" "6 secret values re-encrypted" "rotate-key"
out=$(mlp --secret-key-file "$KEY2" run "$T_DIR/pipeline.yaml" 2>&1) || fail "run with the new key: $out"
R2=$(mlp get runs -o json | jq -r '.[0].id')
assert_eq "$(run_state "$R2")" "Succeeded" "run after rotation"
assert_eq "$(cat "$(step_field "$R2" use outputs_dir)/proof.txt")" "$PW_SHA" "the value after rotation"
mlp --secret-key-file "$KEY" run "$T_DIR/pipeline.yaml" >/dev/null 2>&1 && fail "the old key still opens values"
O=$(mlp get runs -o json | jq -r '.[0].id')
assert_contains "$(step_field "$O" use message)" "encrypted with key id" "old key"
# the key may come from the environment as hex
out=$(MLPLANE_SECRET_KEY=$(cat "$KEY2") mlp run "$T_DIR/pipeline.yaml" 2>&1) || fail "MLPLANE_SECRET_KEY: $out"
out=$(mlp --secret-key-file "$KEY2" secrets rotate-key --new-key-file "$KEY" --secret-key-file "$T_DIR/nope" 2>&1) &&
  fail "rotate-key with a missing current key"
ok "rotate-key re-encrypts every value: the new key opens them, the old one is refused"

# a deleted Secret forgets its values
mlp delete secret api-db >/dev/null
[ "$(mlp describe secret api-db -o json 2>/dev/null | jq -r '.name' 2>/dev/null || true)" != "api-db" ] ||
  fail "describe after delete"
absent_everywhere "the home at the end" "$MLPLANE_HOME"
ok "delete secret forgets it"

# ---- on Kubernetes: the Secret as a v1 Secret, env valueFrom kept, files as a projected volume ------
cat "$T_DIR/secret.yaml" >"$T_DIR/k8s.yaml"
printf -- '---\n' >>"$T_DIR/k8s.yaml"
cat "$T_DIR/pipeline.yaml" >>"$T_DIR/k8s.yaml"
mlp k8s render -o json "$T_DIR/k8s.yaml" >"$T_DIR/k8s.json" 2>"$T_DIR/k8s.err" || fail "render: $(cat "$T_DIR/k8s.err")"
sec=$(jq -c '.items[] | select(.kind=="Secret")' "$T_DIR/k8s.json")
assert_eq "$(jq -r '.apiVersion + " " + .type' <<<"$sec")" "v1 Opaque" "the rendered Secret"
assert_eq "$(jq -r '.data.password' <<<"$sec" | base64 -d)" "$PW" "stringData rendered as base64 data"
assert_eq "$(jq -r '.data.token' <<<"$sec")" "$TOKEN_B64" "data kept"
ct=$(jq -c '.items[] | select(.kind=="Job") | .spec.template.spec' "$T_DIR/k8s.json")
assert_eq "$(jq -c '.containers[0].env[] | select(.name=="DB_PASSWORD") | .valueFrom' <<<"$ct")" \
  '{"secretKeyRef":{"name":"db","key":"password"}}' "env valueFrom as written"
assert_eq "$(jq -c '.volumes[] | select(.name=="mlplane-secrets") | .projected.sources[0].secret.items' <<<"$ct")" \
  '[{"key":"cert","path":"tls/cert.pem"},{"key":"token","path":"token"}]' "secretFiles as a projected volume"
assert_eq "$(jq -r '.containers[0].env[] | select(.name=="MLPLANE_SECRETS") | .value' <<<"$ct")" \
  "$(jq -r '.containers[0].volumeMounts[] | select(.name=="mlplane-secrets") | .mountPath' <<<"$ct")" "MLPLANE_SECRETS"
V=${MLPLANE_K8S_SCHEMAS:-$MLPLANE_SRC/../shared/k8s-schemas}
if command -v node >/dev/null && [ -f "$V/validate.mjs" ] && [ -d "$V/node_modules" ]; then
  mlp k8s render "$T_DIR/k8s.yaml" 2>/dev/null >"$T_DIR/k8s.out.yaml"
  for ver in 1.32 1.35; do
    node "$V/validate.mjs" -q --k8s-version "$ver" "$T_DIR/k8s.out.yaml" >"$T_DIR/valid.out" 2>&1 ||
      fail "schemas $ver: $(head -20 "$T_DIR/valid.out")"
  done
  ok "the rendered Secret and Job are valid against the Kubernetes 1.32 and 1.35 schemas"
else
  echo "# skip: schema validation (needs node and $V/validate.mjs with its node_modules: cd $V && npm ci)"
fi
ok "k8s render: a v1 Secret, env valueFrom.secretKeyRef as written, secretFiles as a projected volume"

finish
