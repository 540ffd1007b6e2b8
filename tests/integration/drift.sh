#!/bin/bash
# mlplane drift on CSV files derived from examples/data/breast_cancer.csv: the
# even rows against the odd ones (exit 0, KS for every numeric column, Z for the
# binary label), a copy with 20 features shifted by one standard deviation (exit 1,
# those columns drifted, the data set drifting), -o json and -o yaml fields,
# overrides, a category column, the same JSON on 1 and 4 threads; and bad inputs
# (exit 2): an unreadable file, no common columns (both files' columns listed), a
# column numeric in one file and text in the other (file, row, line and value
# named), a malformed row, an unknown test, a test that does not fit a column.
. "$(dirname "$0")/lib.sh"

D="$T_DIR/data"
mkdir -p "$D"
# sklearn's file starts with "569,30,malignant,benign": give the columns names.
awk -F, 'NR == 1 { for (i = 1; i <= 30; i++) printf "f%d,", i; print "label"; next } { print }' \
  "$MLPLANE_SRC/examples/data/breast_cancer.csv" > "$D/all.csv"
awk 'NR == 1 || NR % 2 == 0' "$D/all.csv" > "$D/ref.csv"
awk 'NR == 1 || NR % 2 == 1' "$D/all.csv" > "$D/cur.csv"
# the current sample with f1..f20 shifted by one reference standard deviation
awk -F, -v OFS=, 'NR == FNR { if (FNR > 1) for (i = 1; i <= 20; i++) { s[i] += $i; q[i] += $i * $i; n[i]++ }; next }
  FNR == 1 { for (i = 1; i <= 20; i++) { m = s[i] / n[i]; sd[i] = sqrt(q[i] / n[i] - m * m) }; print; next }
  { for (i = 1; i <= 20; i++) $i = $i + sd[i]; print }' "$D/ref.csv" "$D/cur.csv" > "$D/shift.csv"

drift() { set +e; out=$(mlp drift "$@" 2>&1); rc=$?; set -e; }

drift --reference "$D/ref.csv" --current "$D/cur.csv"
assert_eq "$rc" "0" "same distribution: exit status (output: $out)"
assert_contains "$out" "data set drift: no" "table summary"
assert_contains "$out" "COLUMN" "table header"
ok "two halves of one data set: no data-set drift, exit 0"

drift --reference "$D/ref.csv" --current "$D/cur.csv" -o json
assert_eq "$rc" "0" "json exit status"
echo "$out" > "$D/same.json"
assert_eq "$(jq '.columns | length' "$D/same.json")" "31" "columns compared"
assert_eq "$(jq -r '[.columns[] | select(.column != "label") | .test] | unique | join(",")' "$D/same.json")" "ks" \
  "numeric columns of a small reference: KS"
assert_eq "$(jq -r '.columns[] | select(.column == "label") | "\(.kind) \(.test) \(.n_values)"' "$D/same.json")" \
  "binary z 2" "the 0/1 label: binary, Z-test"
assert_eq "$(jq -r '.rows.reference, .rows.current' "$D/same.json" | tr '\n' ' ')" "285 284 " "rows"
assert_eq "$(jq -r '.drift.dataset_drift, .drift.drift_share' "$D/same.json" | tr '\n' ' ')" "false 0.5 " "verdict"
assert_eq "$(jq -r '.columns[0] | [.psi, .ks.statistic, .ks.p_value, .wasserstein.normed, .jensenshannon,
  .missing.change] | map(type) | join(",")' "$D/same.json")" "number,number,number,number,number,number" "figures"
assert_eq "$(jq -r '.columns[0].bins' "$D/same.json")" "10" "default quantile bins"
# SciPy's ks_2samp(ref.f19, cur.f19).pvalue = 0.039233556226401484 on these files
assert_eq "$(jq -r '.columns[] | select(.column == "f19") | (.ks.p_value * 1e6 | round)' "$D/same.json")" "39234" \
  "KS p-value of f19 as SciPy's"
ok "-o json: per-column tests and figures, rows, verdict"

drift --reference "$D/ref.csv" --current "$D/shift.csv" -o json
assert_eq "$rc" "1" "shifted: exit status"
echo "$out" > "$D/shift.json"
# f30 drifts already between the two halves (KS p = 0.0235), the other 10 do not
assert_eq "$(jq -r '[.columns[20:][] | select(.drifted) | .column] | join(",")' "$D/same.json")" "f30" "unshifted"
assert_eq "$(jq -r '[.columns[20:][] | select(.drifted) | .column] | join(",")' "$D/shift.json")" "f30" "unshifted"
assert_eq "$(jq -r '[.columns[:20][] | .drifted] | all' "$D/shift.json")" "true" "f1..f20 drifted"
assert_eq "$(jq -r '.drift.dataset_drift' "$D/shift.json")" "true" "data set drift"
ok "20 of 31 columns shifted by 1 sd: those drift (and f30), the data set drifts, exit 1"

drift --reference "$D/ref.csv" --current "$D/shift.csv" --drift-share 0.9 -o yaml
assert_eq "$rc" "0" "drift share 0.9: exit status"
assert_contains "$out" "dataset_drift: false" "yaml verdict"
drift --reference "$D/ref.csv" --current "$D/shift.csv" --columns f21,f22,f1 -o json
assert_eq "$rc" "0" "--columns, 1 of 3 drifted: exit status"
assert_eq "$(echo "$out" | jq -r '[.columns[].column] | join(",")')" "f21,f22,f1" "--columns order"
assert_eq "$(echo "$out" | jq -r '.drift.share * 3 | round')" "1" "1 of 3 drifted"
drift --reference "$D/ref.csv" --current "$D/shift.csv" --columns f21,f2,f1 -o json
assert_eq "$rc" "1" "--columns, 2 of 3 drifted: exit status"
drift --reference "$D/ref.csv" --current "$D/shift.csv" --columns f1,f2 --stattest psi --threshold f2=100 \
  --stattest f1=wasserstein --bins 5 -o json
assert_eq "$(echo "$out" | jq -r '.columns | map("\(.test) \(.threshold) \(.drifted) \(.bins)") | join(",")')" \
  "wasserstein 0.1 true 5,psi 100 false 5" "overrides"
assert_eq "$rc" "1" "overrides: exit status (1 of 2 columns)"
ok "--drift-share, --columns, --stattest, --threshold, --bins"

mlp drift --reference "$D/ref.csv" --current "$D/shift.csv" -o json --threads 1 > "$D/t1.json" || true
mlp drift --reference "$D/ref.csv" --current "$D/shift.csv" -o json --threads 4 > "$D/t4.json" || true
cmp -s "$D/t1.json" "$D/t4.json" || fail "1 and 4 threads give different output"
ok "the same output on 1 and 4 threads"

# a category column: colour, with a new category in the current sample
awk 'BEGIN { split("red green blue", c, " "); print "colour,x"; for (i = 1; i <= 300; i++) print c[i % 3 + 1] "," i }' \
  > "$D/cat_ref.csv"
awk 'BEGIN { split("red green blue", c, " "); print "colour,x"
  for (i = 1; i <= 300; i++) print (i <= 60 ? "purple" : c[i % 3 + 1]) "," i }' > "$D/cat_cur.csv"
drift --reference "$D/cat_ref.csv" --current "$D/cat_cur.csv" --columns colour -o json
assert_eq "$rc" "1" "new category: exit status"
assert_eq "$(echo "$out" | jq -r '.columns[0] | "\(.type) \(.kind) \(.test) \(.n_values) \(.drifted)"')" \
  "text categorical chisquare 4 true" "category column"
assert_eq "$(echo "$out" | jq -r '.columns[0].chisquare.statistic')" "inf" "chi-squared of a new category"
drift --reference "$D/cat_ref.csv" --current "$D/cat_ref.csv" --columns colour -o json
assert_eq "$rc" "0" "same categories: exit status"
assert_eq "$(echo "$out" | jq -r '.columns[0] | "\(.statistic) \(.psi) \(.jensenshannon)"')" "1 0 0" "same"
ok "a text column: chi-squared, a new category drifts"

# missing values: the share change is reported, the tests run on the values
awk -F, -v OFS=, 'NR > 1 && NR % 4 == 0 { $3 = "NA" } { print }' "$D/cur.csv" > "$D/holes.csv"
drift --reference "$D/ref.csv" --current "$D/holes.csv" --columns f3 -o json
assert_eq "$(echo "$out" | jq -r '.columns[0] | "\(.n_current) \(.missing.reference) \(.missing.current > 0.2)"')" \
  "213 0 true" "missing values"
ok "missing values dropped before the tests, their share reported"

# bad input: exit 2, named
drift --reference "$D/nope.csv" --current "$D/cur.csv"
assert_eq "$rc" "2" "unreadable file: exit status"
assert_contains "$out" "nope.csv" "unreadable file named"
printf 'a,b\n1,2\n' > "$D/ab.csv"
drift --reference "$D/ab.csv" --current "$D/cur.csv"
assert_eq "$rc" "2" "no common columns: exit status"
assert_contains "$out" "no common columns" "no common columns"
assert_contains "$out" "ab.csv has the columns a, b" "reference's columns listed"
assert_contains "$out" "f1, f2" "current's columns listed"
awk -F, -v OFS=, 'NR == 8 { $5 = "n/d" } { print }' "$D/cur.csv" > "$D/text.csv"
drift --reference "$D/ref.csv" --current "$D/text.csv"
assert_eq "$rc" "2" "numeric vs text: exit status"
assert_contains "$out" "text.csv: row 7 (line 8), column \"f5\": \"n/d\" is not a number" "numeric vs text named"
assert_contains "$out" "numeric in $D/ref.csv" "the numeric file named"
printf 'f1,f2\n1,2\n3\n' > "$D/short.csv"
drift --reference "$D/ref.csv" --current "$D/short.csv"
assert_eq "$rc" "2" "malformed row: exit status"
assert_contains "$out" "short.csv" "malformed file named"
drift --reference "$D/ref.csv" --current "$D/cur.csv" --stattest nope
assert_eq "$rc" "2" "unknown test: exit status"
drift --reference "$D/ref.csv" --current "$D/cur.csv" --stattest f1=chisquare
assert_eq "$rc" "2" "chi-squared on a numeric column: exit status"
assert_contains "$out" "column \"f1\": chisquare is for categorical columns" "misfit test named"
drift --reference "$D/ref.csv" --current "$D/cur.csv" --threshold nocol=0.2
assert_eq "$rc" "2" "option for a column not compared"
assert_contains "$out" "\"nocol\"" "the column named"
drift --reference "$D/ref.csv"
assert_eq "$rc" "2" "no --current: exit status"
drift --help
assert_eq "$rc" "0" "--help"
assert_contains "$out" "--stattest COL=NAME" "help lists the flags"
ok "bad input and usage: exit 2, with file, row and column named"

finish
