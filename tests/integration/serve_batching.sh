#!/bin/bash
# mlplane serve answers concurrent small requests together (src/serve/batch.c:
# requests read in the same round of a worker thread's event loop are
# predicted in one XGBoost call, their answers split back). Every test row of
# the breast-cancer data is sent as its own one-row request, 32 at a time and
# three times over, with two-row requests mixed in: each answer must carry its
# own request's id and exactly `mlplane xgb predict`'s (the XGBoost C API's)
# prediction for its rows, with the X-Model-Version header; then a SIGTERM
# drains and the server exits 0.
. "$(dirname "$0")/lib.sh"

DATA="$MLPLANE_SRC/examples/data/breast_cancer.csv"
mlp data split "$DATA" --test-fraction 0.2 --seed 7 --train "$T_DIR/train.csv" --test "$T_DIR/test.csv" >/dev/null
mlp xgb train --train "$T_DIR/train.csv" --model "$T_DIR/bc.json" --rounds 50 --max-depth 4 --quiet
mlp xgb predict --model "$T_DIR/bc.json" --data "$T_DIR/test.csv" --out "$T_DIR/want.txt"
tail -n +2 "$T_DIR/test.csv" | cut -d, -f1-30 >"$T_DIR/rows.txt"
NROWS=$(wc -l <"$T_DIR/rows.txt")
[ "$NROWS" -gt 100 ] || fail "expected over 100 test rows, got $NROWS"
DIGEST=$(sha256sum "$T_DIR/bc.json" | cut -c1-12)

start_serve "$T_DIR/bc.json" --listen 127.0.0.1:0 --name bc --threads 2
U="$SERVE_URL/v2/models/bc/infer"
mkdir -p "$T_DIR/req" "$T_DIR/out"

# Request K (1-based): rows I (and I+1 for every seventh K), with id "k-K".
# Round R of the requests writes out/R-K.json and out/R-K.h.
i=0
while IFS= read -r row; do
  i=$((i + 1))
  printf '{"id":"k-%d","inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP32","data":[%s]}]}' "$i" "$row" >"$T_DIR/req/$i.json"
  echo "$i 1" >>"$T_DIR/req/list"
done <"$T_DIR/rows.txt"
for k in $(seq 7 7 $((NROWS - 1))); do
  two=$(sed -n "${k}p;$((k + 1))p" "$T_DIR/rows.txt" | paste -sd,)
  printf '{"id":"k-%d","inputs":[{"name":"input-0","shape":[2,30],"datatype":"FP32","data":[%s]}]}' "$k" "$two" >"$T_DIR/req/$k.json"
  sed -i "s/^$k 1\$/$k 2/" "$T_DIR/req/list"
done

for round in 1 2 3; do
  cut -d' ' -f1 "$T_DIR/req/list" | xargs -P 32 -I{} sh -c \
    'curl -sf -D "$3/out/$4-$1.h" -o "$3/out/$4-$1.json" -XPOST -H "Content-Type: application/json" --data-binary @"$3/req/$1.json" "$2"' \
    _ {} "$U" "$T_DIR" "$round" || fail "round $round: a request failed"
  # one line per answer: K and its values; one per request: K and the C API's values for its rows
  for f in "$T_DIR"/out/$round-*.json; do jq -r '[(.id | ltrimstr("k-")), (.outputs[0].data | map(tostring) | join(" "))] | join(" ")' "$f"; done |
    sort -n >"$T_DIR/got.txt"
  while read -r k n; do echo "$k $(sed -n "${k},$((k + n - 1))p" "$T_DIR/want.txt" | paste -sd' ')"; done <"$T_DIR/req/list" >"$T_DIR/want-$round.txt"
  # %.9g as the server prints it: compare the floats, not the spelling
  bad=$(awk 'NR == FNR { w[$1] = $0; next } { split(w[$1], b, " "); if (NF != length(b)) { print; next }
             for (i = 2; i <= NF; i++) if ($i + 0 != b[i] + 0) { print; next } ; seen[$1] = 1 }
             END { for (k in w) if (!seen[k]) print "no answer for request " k }' "$T_DIR/want-$round.txt" "$T_DIR/got.txt" | head -3)
  [ -z "$bad" ] || fail "round $round: answers that are not the C API's for their own request: $bad"
  [ "$(wc -l <"$T_DIR/got.txt")" = "$NROWS" ] || fail "round $round: $(wc -l <"$T_DIR/got.txt") answers for $NROWS requests"
  missing=$(grep -L "X-Model-Version: $DIGEST" "$T_DIR"/out/$round-*.h | head -1)
  [ -z "$missing" ] || fail "round $round: no X-Model-Version: $DIGEST in $missing"
done
ok "$NROWS requests of one or two rows, 32 at a time, three rounds: each answer has its own id and the C API's exact predictions"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
rc=$?
[ "$rc" -eq 0 ] || fail "mlplane serve exited $rc after SIGTERM: $(cat "$SERVE_ERR")"
ok "SIGTERM: exit 0"
finish
