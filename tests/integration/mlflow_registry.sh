#!/bin/bash
# mlflow_registry: the MLflow model registry and artifact proxy over real HTTP
# (mlplane server): registered models, versions, aliases, stages, searches, the
# /ajax-api/ prefix, MLflow's error shapes, and an artifact upload / download /
# list / delete round trip with a binary file and refused traversal.
. "$(dirname "$0")/lib.sh"

# http METHOD PATH [curl args...]: prints the status; the body lands in $T_DIR/body
http() {
  local m=$1 p=$2; shift 2
  curl -s -o "$T_DIR/body" -w '%{http_code}' -X "$m" "$SERVER_URL$p" "$@"
}
body() { cat "$T_DIR/body"; }
# post METHOD PATH JSON: sends JSON, prints the status
post() { http "$1" "$2" -H 'Content-Type: application/json' --data "$3"; }
A=/api/2.0/mlflow
X=/ajax-api/2.0/mlflow

start_server
trap 'stop_server $SERVER_PID >/dev/null 2>&1 || true; cleanup' EXIT

# ---- registered models
assert_eq "$(post POST $A/registered-models/create '{"name":"iris","description":"d","tags":[{"key":"team","value":"ml"}]}')" 200 "create"
assert_eq "$(body | jq -r .registered_model.name)" iris "create: name"
assert_eq "$(body | jq -r '.registered_model.tags[0].value')" ml "create: tags"
assert_eq "$(post POST $A/registered-models/create '{"name":"iris"}')" 400 "create again"
assert_eq "$(body | jq -r .error_code)" RESOURCE_ALREADY_EXISTS "create again: code"
assert_eq "$(post POST $A/registered-models/create '{}')" 400 "create without name"
assert_eq "$(body | jq -r .error_code)" INVALID_PARAMETER_VALUE "create without name: code"
assert_contains "$(body | jq -r .message)" "'name'" "create without name: message"
assert_eq "$(http GET "$A/registered-models/get?name=nope")" 404 "get missing"
assert_eq "$(body | jq -r .error_code)" RESOURCE_DOES_NOT_EXIST "get missing: code"
assert_eq "$(http GET "$X/registered-models/get?name=iris")" 200 "get through /ajax-api/"
assert_eq "$(body | jq -r .registered_model.description)" d "get: description"
ok "registered models: create, get, errors, /ajax-api/"

# ---- versions
for i in 1 2 3; do
  assert_eq "$(post POST $A/model-versions/create "{\"name\":\"iris\",\"source\":\"mlflow-artifacts:/1/r$i/artifacts/model\",\"run_id\":\"r$i\"}")" 200 "version $i"
  assert_eq "$(body | jq -r .model_version.version)" "$i" "version number $i"
  assert_eq "$(body | jq -r .model_version.status)" READY "version $i status"
done
assert_eq "$(http GET "$A/model-versions/get?name=iris&version=2")" 200 "get version"
assert_eq "$(body | jq -r .model_version.run_id)" r2 "get version: run_id"
assert_eq "$(http GET "$A/model-versions/get?name=iris&version=x")" 400 "get version x"
assert_eq "$(http GET "$A/model-versions/get-download-uri?name=iris&version=3")" 200 "download uri"
assert_eq "$(body | jq -r .artifact_uri)" "mlflow-artifacts:/1/r3/artifacts/model" "download uri value"
assert_eq "$(post PATCH $A/model-versions/update '{"name":"iris","version":"1","description":"first"}')" 200 "update version"
assert_eq "$(body | jq -r .model_version.description)" first "update version: description"
ok "model versions: create numbered 1..3, get, update, download uri"

# ---- stages, latest versions, aliases
assert_eq "$(post POST $A/model-versions/transition-stage '{"name":"iris","version":"1","stage":"Production","archive_existing_versions":false}')" 200 "to Production"
assert_eq "$(post POST $A/model-versions/transition-stage '{"name":"iris","version":"2","stage":"production","archive_existing_versions":true}')" 200 "archive others"
assert_eq "$(http GET "$A/model-versions/get?name=iris&version=1")" 200 "get v1"
assert_eq "$(body | jq -r .model_version.current_stage)" Archived "v1 archived"
assert_eq "$(post POST $A/registered-models/get-latest-versions '{"name":"iris","stages":["Production"]}')" 200 "latest"
assert_eq "$(body | jq -r '.model_versions | map(.version) | join(",")')" 2 "latest Production"
assert_eq "$(http GET "$A/registered-models/get-latest-versions?name=iris")" 200 "latest (GET)"
assert_eq "$(body | jq '.model_versions | length')" 3 "latest of each stage"
assert_eq "$(post POST $A/registered-models/alias '{"name":"iris","alias":"champion","version":"2"}')" 200 "set alias"
assert_eq "$(http GET "$A/registered-models/alias?name=iris&alias=champion")" 200 "get by alias"
assert_eq "$(body | jq -r .model_version.version)" 2 "alias target"
assert_eq "$(body | jq -r '.model_version.aliases[0]')" champion "aliases of the version"
assert_eq "$(http GET "$A/registered-models/get?name=iris")" 200 "get model"
assert_eq "$(body | jq -c '.registered_model.aliases')" '[{"alias":"champion","version":"2"}]' "aliases of the model"
assert_eq "$(post DELETE $A/registered-models/alias '{"name":"iris","alias":"champion"}')" 200 "delete alias"
assert_eq "$(http GET "$A/registered-models/alias?name=iris&alias=champion")" 400 "alias gone"
ok "stages with archive_existing_versions, latest versions, aliases"

# ---- searches and pages
for n in a1 a2 b1; do post POST $A/registered-models/create "{\"name\":\"$n\"}" >/dev/null; done
assert_eq "$(http GET "$A/registered-models/search" -G --data-urlencode "filter=name LIKE 'a%'")" 200 "search models"
assert_eq "$(body | jq -r '[.registered_models[].name] | join(",")')" a1,a2 "search models: names"
assert_eq "$(http GET "$A/registered-models/search?max_results=2")" 200 "page 1"
tok=$(body | jq -r .next_page_token)
[ -n "$tok" ] && [ "$tok" != null ] || fail "no next_page_token"
assert_eq "$(http GET "$A/registered-models/search" -G --data-urlencode "max_results=2" --data-urlencode "page_token=$tok")" 200 "page 2"
assert_eq "$(body | jq '.registered_models | length')" 2 "page 2 size"
assert_eq "$(http GET "$A/model-versions/search" -G --data-urlencode "filter=run_id IN ('r1','r3')")" 200 "search versions"
assert_eq "$(body | jq -r '[.model_versions[].version] | sort | join(",")')" 1,3 "search versions: found"
assert_eq "$(http GET "$A/registered-models/search?max_results=1001")" 400 "max_results too big"
ok "searches with filters and page tokens"

# ---- deletes
assert_eq "$(post DELETE $A/model-versions/delete '{"name":"iris","version":"3"}')" 200 "delete version"
assert_eq "$(post POST $A/model-versions/create '{"name":"iris","source":"s3://b/m"}')" 200 "create after delete"
assert_eq "$(body | jq -r .model_version.version)" 4 "numbers are not reused"
assert_eq "$(post DELETE $A/registered-models/delete '{"name":"iris"}')" 200 "delete model"
assert_eq "$(http GET "$A/model-versions/get?name=iris&version=1")" 404 "versions gone with the model"
ok "deletes"

# ---- artifact proxy
AR=/api/2.0/mlflow-artifacts/artifacts
head -c 100000 /dev/urandom >"$T_DIR/blob.bin"
assert_eq "$(http PUT "$AR/1/run1/artifacts/model/blob.bin" --data-binary @"$T_DIR/blob.bin")" 200 "upload"
assert_eq "$(curl -s -o "$T_DIR/down.bin" -w '%{http_code}' "$SERVER_URL$AR/1/run1/artifacts/model/blob.bin")" 200 "download"
cmp -s "$T_DIR/blob.bin" "$T_DIR/down.bin" || fail "downloaded bytes differ"
[ -f "$MLPLANE_HOME/artifacts/1/run1/artifacts/model/blob.bin" ] || fail "not stored under HOME/artifacts"
assert_eq "$(http GET "$AR?path=1/run1/artifacts/model")" 200 "list"
assert_eq "$(body | jq -c '.files')" '[{"path":"blob.bin","is_dir":false,"file_size":100000}]' "list body"
assert_eq "$(http GET "$AR/1/run1/%2E%2E/%2E%2E/%2E%2E/mlplane.db" --path-as-is)" 400 "traversal refused"
assert_eq "$(body | jq -r .error_code)" INVALID_PARAMETER_VALUE "traversal: code"
assert_eq "$(http DELETE "$AR/1/run1/artifacts/model/blob.bin")" 200 "delete artifact"
assert_eq "$(http GET "$AR/1/run1/artifacts/model/blob.bin")" 404 "deleted artifact"
assert_eq "$(body | jq -r .error_code)" RESOURCE_DOES_NOT_EXIST "deleted artifact: code"
ok "artifact proxy: upload, download (binary), list, traversal refused, delete"

stop_server "$SERVER_PID" || fail "server exit status"
trap cleanup EXIT
finish
