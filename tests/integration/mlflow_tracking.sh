#!/bin/bash
# mlflow_tracking: the MLflow tracking API over real HTTP (mlplane server):
# experiments, runs, metrics, params, tags, log-batch (limits, atomicity),
# log-inputs, get-history, runs/search with filters, ordering and paging,
# artifacts/list, the /ajax-api/ prefix and MLflow's error shapes and statuses.
. "$(dirname "$0")/lib.sh"

# http METHOD PATH [curl args...]: prints the status; the body lands in $T_DIR/body
http() {
  local m=$1 p=$2; shift 2
  curl -s -o "$T_DIR/body" -w '%{http_code}' -X "$m" "$SERVER_URL$p" "$@"
}
body() { cat "$T_DIR/body"; }
post() { http POST "$1" -H 'Content-Type: application/json' --data "$2"; }
get() { http GET "$1"; }
code() { body | jq -r .error_code; }
A=/api/2.0/mlflow
X=/ajax-api/2.0/mlflow

start_server
trap 'stop_server $SERVER_PID >/dev/null 2>&1 || true; cleanup' EXIT

# ---- experiments
assert_eq "$(get "$A/experiments/get?experiment_id=0")" 200 "Default experiment"
assert_eq "$(body | jq -r .experiment.name)" Default "Default: name"
assert_eq "$(post $A/experiments/create '{"name":"exp","tags":[{"key":"team","value":"ml"}]}')" 200 "create"
EXP=$(body | jq -r .experiment_id)
assert_eq "$(get "$X/experiments/get-by-name?experiment_name=exp")" 200 "get-by-name via /ajax-api/"
assert_eq "$(body | jq -r .experiment.artifact_location)" "mlflow-artifacts:/$EXP" "artifact location"
assert_eq "$(body | jq -r '.experiment.tags[0].value')" ml "experiment tags"
assert_eq "$(post $A/experiments/create '{"name":"exp"}')" 400 "create again"
assert_eq "$(code)" RESOURCE_ALREADY_EXISTS "create again: code"
assert_eq "$(post $A/experiments/create '{}')" 400 "create without name"
assert_eq "$(code)" INVALID_PARAMETER_VALUE "create without name: code"
assert_eq "$(post $A/experiments/create '{bad json')" 400 "malformed JSON"
assert_eq "$(get "$A/experiments/get?experiment_id=999")" 404 "get missing"
assert_eq "$(code)" RESOURCE_DOES_NOT_EXIST "get missing: code"
assert_eq "$(post $A/experiments/update "{\"experiment_id\":\"$EXP\",\"new_name\":\"exp2\"}")" 200 "rename"
assert_eq "$(post $A/experiments/set-experiment-tag "{\"experiment_id\":\"$EXP\",\"key\":\"k\",\"value\":\"v\"}")" 200 "set-experiment-tag"
assert_eq "$(post $A/experiments/search '{"filter":"name = '"'exp2'"' AND tags.k = '"'v'"'"}')" 200 "search experiments"
assert_eq "$(body | jq '.experiments | length')" 1 "search experiments: count"
assert_eq "$(http GET "$A/experiments/search?max_results=1")" 200 "search experiments via GET"
assert_eq "$(body | jq '.experiments | length')" 1 "GET search: count"
[ "$(body | jq -r .next_page_token)" != null ] || fail "GET search: next_page_token"
assert_eq "$(post $A/experiments/delete "{\"experiment_id\":\"$EXP\"}")" 200 "delete experiment"
assert_eq "$(post $A/experiments/update "{\"experiment_id\":\"$EXP\",\"new_name\":\"exp3\"}")" 500 "rename deleted"
assert_eq "$(code)" INVALID_STATE "rename deleted: code"
assert_eq "$(post $A/experiments/restore "{\"experiment_id\":\"$EXP\"}")" 200 "restore experiment"
ok "experiments: create, get, get-by-name, update, search, tags, delete, restore, errors"

# ---- runs
assert_eq "$(post $A/runs/create "{\"experiment_id\":\"$EXP\",\"run_name\":\"r1\",\"start_time\":1000,\"tags\":[{\"key\":\"t\",\"value\":\"1\"}]}")" 200 "create run"
RUN=$(body | jq -r .run.info.run_id)
assert_eq "$(body | jq -r .run.info.status)" RUNNING "run status"
assert_eq "$(body | jq -r .run.info.artifact_uri)" "mlflow-artifacts:/$EXP/$RUN/artifacts" "artifact uri"
assert_eq "$(get "$A/runs/get?run_id=$RUN")" 200 "get run"
assert_eq "$(body | jq -r .run.info.run_name)" r1 "get run: name"
assert_eq "$(get "$A/runs/get?run_id=nope")" 404 "get missing run"
assert_eq "$(code)" RESOURCE_DOES_NOT_EXIST "get missing run: code"
assert_eq "$(post $A/runs/log-metric "{\"run_id\":\"$RUN\",\"key\":\"loss\",\"value\":0.5,\"timestamp\":1,\"step\":1}")" 200 "log-metric"
assert_eq "$(post $A/runs/log-parameter "{\"run_id\":\"$RUN\",\"key\":\"lr\",\"value\":\"0.1\"}")" 200 "log-parameter"
assert_eq "$(post $A/runs/log-parameter "{\"run_id\":\"$RUN\",\"key\":\"lr\",\"value\":\"0.2\"}")" 400 "change a param"
assert_contains "$(body | jq -r .message)" "Changing param values is not allowed" "change a param: message"
assert_eq "$(post $A/runs/set-tag "{\"run_id\":\"$RUN\",\"key\":\"k\",\"value\":\"v\"}")" 200 "set-tag"
assert_eq "$(post $A/runs/delete-tag "{\"run_id\":\"$RUN\",\"key\":\"k\"}")" 200 "delete-tag"
assert_eq "$(post $A/runs/delete-tag "{\"run_id\":\"$RUN\",\"key\":\"k\"}")" 404 "delete missing tag"
assert_eq "$(post $A/runs/log-inputs "{\"run_id\":\"$RUN\",\"datasets\":[{\"tags\":[{\"key\":\"mlflow.data.context\",\"value\":\"train\"}],\"dataset\":{\"name\":\"d\",\"digest\":\"x1\",\"source_type\":\"local\",\"source\":\"/d\"}}]}")" 200 "log-inputs"
assert_eq "$(get "$X/runs/get?run_id=$RUN")" 200 "get run via /ajax-api/"
assert_eq "$(body | jq -r '.run.data.metrics[0].value')" 0.5 "latest metric"
assert_eq "$(body | jq -r '.run.data.params[0].value')" 0.1 "param"
assert_eq "$(body | jq -r '.run.inputs.dataset_inputs[0].dataset.name')" d "inputs"
assert_eq "$(post $A/runs/update "{\"run_id\":\"$RUN\",\"status\":\"FINISHED\",\"end_time\":2000}")" 200 "update run"
assert_eq "$(body | jq -r .run_info.status)" FINISHED "update: status"
ok "runs: create, get, update, log-metric, log-parameter, set-tag, delete-tag, log-inputs"

# ---- log-batch
BATCH=$(jq -nc --arg r "$RUN" '{run_id:$r, metrics:[range(1000) | {key:"m", value:., timestamp:., step:.}]}')
assert_eq "$(post $A/runs/log-batch "$BATCH")" 200 "log-batch of 1000 metrics"
assert_eq "$(get "$A/metrics/get-history?run_id=$RUN&metric_key=m")" 200 "get-history"
assert_eq "$(body | jq '.metrics | length')" 1000 "get-history: all points"
assert_eq "$(get "$A/metrics/get-history?run_id=$RUN&metric_key=m&max_results=600")" 200 "get-history paged"
TOK=$(body | jq -r .next_page_token)
assert_eq "$(get "$A/metrics/get-history?run_id=$RUN&metric_key=m&max_results=600&page_token=$TOK")" 200 "get-history page 2"
assert_eq "$(body | jq '.metrics | length')" 400 "get-history page 2: count"
BIG=$(jq -nc --arg r "$RUN" '{run_id:$r, metrics:[range(1001) | {key:"m", value:1, timestamp:1}]}')
assert_eq "$(post $A/runs/log-batch "$BIG")" 400 "1001 metrics"
assert_contains "$(body | jq -r .message)" "at most 1000 metrics. Got 1001 metrics" "1001 metrics: message"
BAD=$(jq -nc --arg r "$RUN" '{run_id:$r, metrics:[{key:"new", value:1, timestamp:1}], params:[{key:"lr", value:"9"}], tags:[{key:"nt", value:"1"}]}')
assert_eq "$(post $A/runs/log-batch "$BAD")" 400 "batch with a changed param"
assert_eq "$(get "$A/metrics/get-history?run_id=$RUN&metric_key=new")" 200 "history after the failed batch"
assert_eq "$(body | jq '.metrics | length')" 0 "failed batch wrote nothing"
ok "log-batch: 1000 metrics, history paging, limits, atomicity"

# ---- search
for i in 1 2 3 4 5; do
  post $A/runs/create "{\"experiment_id\":\"$EXP\",\"run_name\":\"s$i\",\"start_time\":$((2000 + i))}" >/dev/null
  R=$(body | jq -r .run.info.run_id)
  post $A/runs/log-batch "{\"run_id\":\"$R\",\"metrics\":[{\"key\":\"acc\",\"value\":0.$i,\"timestamp\":1}],\"params\":[{\"key\":\"model\",\"value\":\"m$((i % 2))\"}]}" >/dev/null
done
S="\"experiment_ids\":[\"$EXP\"]"
assert_eq "$(post $A/runs/search "{$S,\"filter\":\"metrics.acc > 0.25 and params.model = 'm1'\",\"order_by\":[\"metrics.acc DESC\"]}")" 200 "search runs"
assert_eq "$(body | jq -r '[.runs[].info.run_name] | join(",")')" "s5,s3" "search: filter and order"
assert_eq "$(post $X/runs/search "{$S,\"filter\":\"attributes.run_name LIKE 's%'\",\"max_results\":2}")" 200 "search via /ajax-api/"
assert_eq "$(body | jq -r '[.runs[].info.run_name] | join(",")')" "s5,s4" "search: default order"
TOK=$(body | jq -r .next_page_token)
assert_eq "$(post $A/runs/search "{$S,\"filter\":\"attributes.run_name LIKE 's%'\",\"max_results\":2,\"page_token\":\"$TOK\"}")" 200 "search page 2"
assert_eq "$(body | jq -r '[.runs[].info.run_name] | join(",")')" "s3,s2" "search: page 2"
assert_eq "$(post $A/runs/search "{$S,\"filter\":\"metrics.acc >> 1\"}")" 400 "bad filter"
assert_eq "$(code)" INVALID_PARAMETER_VALUE "bad filter: code"
assert_contains "$(body | jq -r .message)" "position 14" "bad filter: position"
ok "runs/search: filters, order_by, paging, errors"

# ---- artifacts/list, delete / restore
mkdir -p "$MLPLANE_HOME/artifacts/$EXP/$RUN/artifacts/model"
printf hello >"$MLPLANE_HOME/artifacts/$EXP/$RUN/artifacts/model/MLmodel"
assert_eq "$(get "$A/artifacts/list?run_id=$RUN")" 200 "artifacts/list"
assert_eq "$(body | jq -r '.files[0].path')" model "artifacts/list: dir"
assert_eq "$(get "$A/artifacts/list?run_id=$RUN&path=model")" 200 "artifacts/list path"
assert_eq "$(body | jq -r '.files[0].file_size')" 5 "artifacts/list: size"
assert_eq "$(post $A/runs/delete "{\"run_id\":\"$RUN\"}")" 200 "delete run"
assert_eq "$(post $A/runs/log-metric "{\"run_id\":\"$RUN\",\"key\":\"x\",\"value\":1,\"timestamp\":1}")" 400 "log to a deleted run"
assert_contains "$(body | jq -r .message)" "must be in the 'active' state" "log to a deleted run: message"
assert_eq "$(post $A/runs/restore "{\"run_id\":\"$RUN\"}")" 200 "restore run"
ok "artifacts/list, delete and restore runs"
finish
