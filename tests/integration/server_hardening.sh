#!/bin/bash
# mlplane server under hostile clients, on 127.0.0.1: path traversal on the
# artifact proxy (.., %-encoded, double-encoded, absolute, backslashes, NUL,
# symbolic links planted in the root) refused for upload, download, list and
# delete, nothing written outside the root and the outside file's bytes never
# answered; header injection (CR/LF reflected into response headers, obs-folds,
# bare LFs, an empty header name); oversized headers and bodies (431/413 or a
# closed connection); slow clients (a normal request is answered while they
# hang, and they are closed after --timeout); and 10,000 fuzzed requests
# (tests/tools/http_fuzz.c) answered with valid statuses, no 500, the server
# alive and its store, artifacts and the file system unchanged.
. "$(dirname "$0")/lib.sh"
: "${MLPLANE_HTTP_FUZZ:?set MLPLANE_HTTP_FUZZ to the http_fuzz binary (CMake does)}"

start_server --timeout 3 --max-body 1Mi
PORT=${SERVER_URL##*:}
ART="$SERVER_URL/api/2.0/mlflow-artifacts/artifacts"
MLF="$SERVER_URL/api/2.0/mlflow"
ROOT="$MLPLANE_HOME/artifacts"

# code ARGS...: curl's status code (000: no answer), the body in $T_DIR/body, the head in $T_DIR/head
code() { curl -s --path-as-is -o "$T_DIR/body" -D "$T_DIR/head" -w '%{http_code}' --max-time 20 "$@" || true; }
alive() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$SERVER_URL/healthz")" = "200" ]; }
is_4xx() { case "$1" in 4??) ;; *) return 1 ;; esac; }
# raw BYTES: sends printf-%b BYTES on a fresh connection, prints the whole answer (until close or 5 s)
# (in a subshell that ignores SIGPIPE: the server may answer and close before all is sent)
raw() (
  trap '' PIPE
  exec 3<>"/dev/tcp/127.0.0.1/$PORT"
  printf '%b' "$1" >&3 2>/dev/null || true
  timeout 5 cat <&3 2>/dev/null || true
  exec 3<&- 3>&-
)
# status BYTES: the first line of raw's answer (no pipe: head would cut cat short)
status() { local o; o=$(raw "$1" 2>/dev/null); o=${o%%$'\n'*}; printf '%s' "${o%$'\r'}"; }

# --- the state the hostile requests must leave alone --------------------------------
json() { curl -sf -X POST -H 'Content-Type: application/json' "$MLF/$1" -d "$2"; }
exp_id=$(json experiments/create '{"name": "hardening"}' | jq -r .experiment_id)
run_id=$(json runs/create "{\"experiment_id\": \"$exp_id\", \"start_time\": 1700000000000}" | jq -r .run.info.run_id)
json runs/log-batch "{\"run_id\": \"$run_id\", \"metrics\": [{\"key\": \"m\", \"value\": 1, \"timestamp\": 1, \"step\": 0}], \"params\": [{\"key\": \"p\", \"value\": \"1\"}]}" >/dev/null
json registered-models/create '{"name": "hardened"}' >/dev/null
# no active Default experiment: a fuzzed runs/create whose experiment id a mutation removed is refused
json experiments/delete '{"experiment_id": "0"}' >/dev/null
assert_eq "$(code -X PUT --data-binary 'seed bytes' "$ART/seed/file.txt")" "200" "a seed artifact"
OUT="$T_DIR/outside"
mkdir -p "$OUT"
SECRET="outside-secret-$RANDOM$RANDOM"
echo "$SECRET" >"$OUT/secret.txt"
ln -s "$OUT" "$ROOT/linkdir"
ln -s "$OUT/secret.txt" "$ROOT/link.txt"
ln -s /etc/passwd "$ROOT/passwd"
ln -s "$OUT" "$ROOT/seed/up"
ok "seeded: an experiment, a run, a model, an artifact, and links out of the artifact root"

# snapshot: what no refused request may change (the store's rows, the file tree around the home)
snapshot() {
  { sqlite3 "$MLPLANE_HOME/mlplane.db" .dump
    (cd "$T_DIR" && find home outside -path home/mlplane.db\* -prune -o -print | LC_ALL=C sort)
    (cd "$T_DIR" && find home/artifacts outside -type f -exec sha256sum {} + | LC_ALL=C sort)
  } >"$1"
}
snapshot "$T_DIR/before.txt"

# --- path traversal on the artifact proxy ------------------------------------------------
# Relative to the root, ../../outside is $OUT (ROOT = T_DIR/home/artifacts).
ABS="${OUT#/}"
reads=(
  "../../outside/secret.txt" "seed/../../../outside/secret.txt" "%2e%2e/%2e%2e/outside/secret.txt"
  "%2E%2E%2F%2E%2E%2Foutside%2Fsecret.txt" "..%2f..%2foutside%2fsecret.txt" "%252e%252e/%252e%252e/outside/secret.txt"
  "%25252e%25252e/%25252e%25252e/outside/secret.txt" "/$ABS/secret.txt" "%2F$ABS/secret.txt" "//etc/passwd"
  "..\\\\..\\\\outside\\\\secret.txt" "..%5c..%5coutside%5csecret.txt" "seed%00/../../../outside/secret.txt"
  "seed/file.txt%00.png" "linkdir/secret.txt" "link.txt" "passwd" "seed/up/secret.txt" "seed/up/../secret.txt"
  "%c0%ae%c0%ae/%c0%ae%c0%ae/outside/secret.txt" "seed/./../../../outside/secret.txt" "./../../outside/secret.txt"
)
for p in "${reads[@]}"; do
  c=$(code "$ART/$p")
  is_4xx "$c" || fail "GET $p: $c $(cat "$T_DIR/body")"
  ! grep -q "$SECRET" "$T_DIR/body" "$T_DIR/head" || fail "GET $p answered the outside file"
  ! grep -q "root:" "$T_DIR/body" || fail "GET $p answered /etc/passwd"
  c=$(code -X PUT --data-binary pwned "$ART/${p/secret.txt/pwned.txt}")
  is_4xx "$c" || fail "PUT ${p/secret.txt/pwned.txt}: $c $(cat "$T_DIR/body")"
  case "$p" in link.txt | passwd) ;; # deleting a link in the root removes the link: below
  *) c=$(code -X DELETE "$ART/$p")
     is_4xx "$c" || fail "DELETE $p: $c $(cat "$T_DIR/body")" ;;
  esac
  c=$(code "$ART?path=${p%/secret.txt}")
  is_4xx "$c" || [ "$(jq -r '.files // [] | length' "$T_DIR/body")" = "0" ] || fail "list ${p%/secret.txt}: $c $(cat "$T_DIR/body")"
  ! grep -q "$SECRET" "$T_DIR/body" || fail "list ${p%/secret.txt} showed the outside file"
done
assert_eq "$(cat "$OUT/secret.txt")" "$SECRET" "the outside file unchanged"
[ ! -e "$OUT/pwned.txt" ] || fail "an upload landed outside the root"
[ -z "$(find "$T_DIR" -name pwned.txt -print -quit)" ] || fail "an upload was written: $(find "$T_DIR" -name pwned.txt)"
# the root's listing leaves out what leads out of it
c=$(code "$ART")
assert_eq "$c" "200" "list the root"
assert_eq "$(jq -r '[.files[].path] | sort | join(",")' "$T_DIR/body")" "seed" "the root lists only what lies inside it"
c=$(code "$ART?path=seed")
assert_eq "$(jq -r '[.files[].path] | join(",")' "$T_DIR/body")" "file.txt" "seed/ lists its file, not the link out"
# deleting a link removes the link, never what it points at
assert_eq "$(code -X DELETE "$ART/link.txt")" "200" "delete a link"
[ ! -L "$ROOT/link.txt" ] && [ -f "$OUT/secret.txt" ] || fail "the link's target went with it"
ln -s "$OUT/secret.txt" "$ROOT/link.txt"
assert_eq "$(code -X PUT --data-binary pwned "$ART/linkdir/new.txt")" "400" "an upload through a linked folder"
assert_eq "$(ls "$OUT")" "secret.txt" "nothing written through the link"
alive || fail "the server died on traversal attempts"
ok "artifact proxy: ${#reads[@]} traversal paths refused for GET, PUT, DELETE and list; nothing outside read or written"

# --- header injection ---------------------------------------------------------------
# A name reflected into Content-Disposition: CR/LF (raw or encoded) never make a header.
for p in "seed/a%0d%0aX-Injected:%20yes.txt" "seed/a%0aX-Injected:%20yes.txt" "seed/a%0dX-Injected:%20yes.txt"; do
  c=$(code -X PUT --data-binary x "$ART/$p")
  is_4xx "$c" || fail "PUT $p: $c"
  code "$ART/$p" >/dev/null
  ! grep -qi "^X-Injected" "$T_DIR/head" || fail "GET $p: a header was injected: $(cat "$T_DIR/head")"
done
# quotes and semicolons in a downloaded name stay inside Content-Disposition's quoted filename
assert_eq "$(code -X PUT --data-binary q "$ART/seed/we%22ird%3b%20x%3dy.txt")" "200" "upload a name with a quote"
assert_eq "$(code "$ART/seed/we%22ird%3b%20x%3dy.txt")" "200" "download it"
assert_contains "$(grep -i '^Content-Disposition' "$T_DIR/head" | tr -d '\r')" 'filename="we\"ird; x=y.txt"' "the name quoted"
assert_eq "$(code -X DELETE "$ART/seed/we%22ird%3b%20x%3dy.txt")" "200" "delete it"
# CR/LF in query values of endpoints that echo them
for u in "$MLF/experiments/get-by-name?experiment_name=a%0d%0aX-Injected:%20yes" \
         "$MLF/registered-models/get?name=a%0d%0aX-Injected:%20yes" \
         "$SERVER_URL/api/v1/runs/a%0d%0aX-Injected:%20yes" \
         "$SERVER_URL/api/v1/models/a%0d%0aX-Injected:%20yes/versions/1/model.json"; do
  c=$(code "$u")
  is_4xx "$c" || fail "GET $u: $c"
  ! grep -qi "^X-Injected" "$T_DIR/head" || fail "GET $u: a header was injected"
done
# a raw CR or LF inside the request line or a header value ends that line: never a header of the answer
out=$(raw "GET /healthz?x=a\rX-Injected: yes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert_not_contains "$out" "X-Injected" "a CR in the request target"
out=$(raw "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n X-Injected: yes\r\nConnection: close\r\n\r\n")
case "$out" in "HTTP/1.1 200"* | "HTTP/1.1 400"* | "") ;; *) fail "an obs-fold: $out";; esac
assert_not_contains "$out" "X-Injected" "an obs-fold"
out=$(raw "GET /healthz HTTP/1.1\nHost: x\nX-Bare: lf\nConnection: close\n\n")
case "$out" in "HTTP/1.1 200"* | "HTTP/1.1 400"* | "") ;; *) fail "bare LFs: $out";; esac
# an empty header name: libmicrohttpd 0.9.75 ends the headers there, so what follows is no header
# of this request; it is answered without them, and the rest of the bytes are refused (400)
out=$(raw "POST /api/2.0/mlflow/experiments/create HTTP/1.1\r\nHost: x\r\n: empty\r\nContent-Type: application/json\r\nContent-Length: 22\r\nConnection: close\r\n\r\n{\"name\": \"smuggled\"}")
assert_not_contains "$out" '"experiment_id"' "a body after an empty header name was not taken"
[ "$(sqlite3 "$MLPLANE_HOME/mlplane.db" "select count(*) from mlflow_experiments where name = 'smuggled'")" = "0" ] ||
  fail "the experiment after an empty header name was created"
alive || fail "the server died on header injection"
ok "header injection: no CR/LF reaches a response header; obs-folds, bare LFs and empty names handled"

# --- oversized headers and bodies ------------------------------------------------------
big=$(head -c $((1024 * 1024)) /dev/zero | tr '\0' a)
out=$(status "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: $big\r\nConnection: close\r\n\r\n")
case "$out" in "" | *431* | *400* | *413*) ;; *) fail "a 1 MiB header: $out";; esac
many=$(for i in $(seq 1 10000); do printf 'X-H%d: v\\r\\n' "$i"; done)
out=$(status "GET /healthz HTTP/1.1\r\nHost: x\r\n${many}Connection: close\r\n\r\n")
case "$out" in "" | *431* | *400* | *413*) ;; *) fail "10,000 headers: $out";; esac
long_url="/healthz?$(head -c 200000 /dev/zero | tr '\0' q)"
out=$(status "GET $long_url HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
case "$out" in "" | *414* | *431* | *400*) ;; *) fail "a 200 kB URL: $out";; esac
alive || fail "the server died on oversized headers"
head -c $((2 * 1024 * 1024)) /dev/zero >"$T_DIR/2mib"
assert_eq "$(code -X PUT --data-binary @"$T_DIR/2mib" "$ART/seed/big.bin")" "413" "a 2 MiB body with Content-Length over --max-body 1Mi"
c=$(code -X PUT -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/2mib" "$ART/seed/big.bin")
case "$c" in 413 | 000) ;; *) fail "a chunked 2 MiB body: $c";; esac
c=$(code -X POST -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @"$T_DIR/2mib" "$MLF/runs/log-batch")
case "$c" in 413 | 000) ;; *) fail "a chunked 2 MiB JSON body: $c";; esac
out=$(status "POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\n")
case "$out" in *413* | *400* | "") ;; *) fail "an overflowing Content-Length: $out";; esac
[ ! -e "$ROOT/seed/big.bin" ] || fail "an oversized upload was stored"
alive || fail "the server died on oversized bodies"
ok "oversized: a 1 MiB header, 10,000 headers and a 200 kB URL refused; bodies over --max-body 413"

# --- slow clients -------------------------------------------------------------------
# N connections each send a request's first bytes, then one header byte a second for 3
# seconds, then nothing: a normal request is answered meanwhile, and after --timeout 3
# of silence the server closes each (the reader sees EOF, recorded in slow/N).
mkdir -p "$T_DIR/slow"
N=30
slow_client() {
  trap '' PIPE # (run in the background, a subshell of its own)
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return
  printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&3
  for _ in 1 2 3; do sleep 1; printf 'a' >&3 2>/dev/null || break; done
  local t0 t1
  t0=$(date +%s)
  timeout 30 cat <&3 >/dev/null 2>&1
  t1=$(date +%s)
  echo $((t1 - t0)) >"$T_DIR/slow/$1"
}
SLOW_PIDS=()
for i in $(seq 1 $N); do slow_client "$i" & SLOW_PIDS+=($!); done
sleep 1.5
t0=$(date +%s%N)
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SERVER_URL/healthz")" "200" "a request while $N clients trickle"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -H 'Content-Type: application/json' \
  -d '{"max_results": 1}' "$MLF/experiments/search")" "200" "an API request while they trickle"
t1=$(date +%s%N)
[ $(((t1 - t0) / 1000000)) -lt 3000 ] || fail "requests waited on the slow clients: $(((t1 - t0) / 1000000)) ms"
closed_all() { [ "$(ls "$T_DIR/slow" | wc -l)" -eq "$N" ]; }
wait_for "the server to close the $N slow connections" 25 closed_all
for f in "$T_DIR"/slow/*; do [ "$(cat "$f")" -lt 25 ] || fail "slow client $(basename "$f") was not closed by the idle timeout"; done
wait "${SLOW_PIDS[@]}"
alive || fail "the server died on slow clients"
ok "slow clients: $N trickling connections do not delay others, and are closed after --timeout"

# --- 10,000 fuzzed requests --------------------------------------------------------------
mkdir -p "$T_DIR/fuzz"
rc=0
"$MLPLANE_HTTP_FUZZ" --port "$PORT" --count 10000 --seed 15 --timeout-ms 5000 --save "$T_DIR/fuzz" \
  >"$T_DIR/fuzz.out" 2>"$T_DIR/fuzz.err" || rc=$?
summary=$(cat "$T_DIR/fuzz.out")
echo "  fuzz: $summary"
[ "$rc" = 0 ] || fail "fuzzing (exit $rc): $(head -c 3000 "$T_DIR/fuzz.err")"
assert_contains "$summary" "requests 10000 " "all 10,000 sent"
assert_contains "$summary" " invalid 0 " "every answer an HTTP status line"
alive || fail "the server died while fuzzed"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$SERVER_URL/readyz")" "200" "ready after fuzzing"
[ ! -e /tmp/escape-fuzz.txt ] || [ /tmp/escape-fuzz.txt -ot "$T_DIR/before.txt" ] || fail "a fuzzed upload escaped to /tmp"
[ -z "$(find "$T_DIR" -name 'escape-fuzz*' -print -quit)" ] || fail "a fuzzed upload was written: $(find "$T_DIR" -name 'escape-fuzz*')"
snapshot "$T_DIR/after.txt"
diff "$T_DIR/before.txt" "$T_DIR/after.txt" >"$T_DIR/changed.txt" || fail "the hostile requests changed something: $(head -40 "$T_DIR/changed.txt")"
assert_eq "$(sqlite3 "$MLPLANE_HOME/mlplane.db" 'PRAGMA integrity_check')" "ok" "store intact"
ok "10,000 fuzzed requests: valid answers, no 500, the server alive, nothing changed"

stop_server "$SERVER_PID" || fail "the server's exit status after SIGTERM"
finish
