#!/bin/bash
# deploy/ on a cluster, checked offline:
#   - `kubectl kustomize` renders deploy/base and every overlay;
#   - each rendering validates against the official schemas in k8s-schemas
#     (validate.mjs; Kubernetes 1.32 and 1.35, with the Kueue and KEDA CRDs it
#     loads from its own crds/): no FAIL, every document valid;
#   - the validator does catch a broken object (so a pass means something);
#   - what the docs promise of the objects: one replica and Recreate, the image
#     at this version, the real server's flag and probe paths (checked against a
#     running mlplane server on 0.0.0.0), non-root and a read-only root with the
#     home and /tmp on volumes, selectors that match, the NetworkPolicy's one
#     port, a Role without wildcards or secrets whose every rule is a row of the
#     README's table, overlays that change only the Role and add their objects.
# Schemas: $MLPLANE_K8S_SCHEMAS, else ../shared/k8s-schemas beside the source
# tree (with its node_modules: `npm ci` there). Without kubectl, node or the
# schemas it prints "skip: WHY" and passes.
. "$(dirname "$0")/lib.sh"

SCHEMAS=${MLPLANE_K8S_SCHEMAS:-$MLPLANE_SRC/../shared/k8s-schemas}
command -v kubectl >/dev/null || { echo "skip: kubectl is not installed"; exit 0; }
command -v node >/dev/null || { echo "skip: node is not installed"; exit 0; }
[ -f "$SCHEMAS/validate.mjs" ] || { echo "skip: no k8s-schemas at $SCHEMAS (set MLPLANE_K8S_SCHEMAS)"; exit 0; }
[ -d "$SCHEMAS/node_modules/ajv" ] && [ -d "$SCHEMAS/node_modules/yaml" ] ||
  { echo "skip: $SCHEMAS has no node_modules (run npm ci there, or point MLPLANE_K8S_SCHEMAS at a copy that has)"; exit 0; }

DEPLOY="$MLPLANE_SRC/deploy"
VERSION=$(mlp --version | awk 'NR == 1 {print $2}')
DIRS="base overlays/kueue overlays/keda"

# to_json < YAML: the documents as one JSON array (with the schemas' own YAML reader)
to_json() {
  SCHEMAS="$SCHEMAS" node -e '
    const YAML = require(process.env.SCHEMAS + "/node_modules/yaml");
    const docs = YAML.parseAllDocuments(require("fs").readFileSync(0, "utf8")).map(d => d.toJSON());
    process.stdout.write(JSON.stringify(docs.filter(d => d !== null)));'
}

# ---- kustomize renders, the schemas accept ------------------------------------------------
for d in $DIRS; do
  name=${d//\//-}
  kubectl kustomize "$DEPLOY/$d" >"$T_DIR/$name.yaml" 2>"$T_DIR/$name.err" ||
    fail "kubectl kustomize deploy/$d: $(cat "$T_DIR/$name.err")"
  to_json <"$T_DIR/$name.yaml" >"$T_DIR/$name.json" || fail "deploy/$d: its rendering is not YAML"
  n=$(jq length "$T_DIR/$name.json")
  [ "$n" -gt 0 ] || fail "deploy/$d renders no object"
  for v in 1.32 1.35; do
    rc=0
    out=$(node "$SCHEMAS/validate.mjs" --k8s-version "$v" - <"$T_DIR/$name.yaml" 2>&1) || rc=$?
    assert_eq "$rc" "0" "validate.mjs --k8s-version $v of deploy/$d: $out"
    assert_not_contains "$out" "FAIL" "deploy/$d against Kubernetes $v"
    assert_contains "$out" "$n valid, 0 invalid (Kubernetes schemas $v)" "every object of deploy/$d is valid"
  done
  ok "deploy/$d: kubectl kustomize renders $n objects, all valid against Kubernetes 1.32 and 1.35"
done

# ---- the validator rejects what it should ---------------------------------------------------
sed 's/^  replicas: 1$/  replicas: one/' "$T_DIR/base.yaml" >"$T_DIR/broken.yaml"
! cmp -s "$T_DIR/base.yaml" "$T_DIR/broken.yaml" || fail "the Deployment's 'replicas: 1' line was not found"
rc=0
out=$(node "$SCHEMAS/validate.mjs" - <"$T_DIR/broken.yaml" 2>&1) || rc=$?
assert_eq "$rc" "1" "a Deployment with replicas: one is invalid"
assert_contains "$out" "FAIL" "the broken Deployment is reported"
assert_contains "$out" "Deployment/mlplane" "the broken object is named"
ok "the validator fails a broken rendering (replicas: one)"

# ---- base: what the docs promise --------------------------------------------------------------
B="$T_DIR/base.json"
q() { jq -r "$@" "$B"; }
assert_eq "$(q '[.[] | .kind + "/" + .metadata.name] | sort | join(" ")')" \
  "Deployment/mlplane Namespace/mlplane NetworkPolicy/mlplane PersistentVolumeClaim/mlplane-home Role/mlplane-server RoleBinding/mlplane-server Service/mlplane ServiceAccount/mlplane ServiceAccount/mlplane-step" \
  "the objects of deploy/base"
assert_eq "$(q '[.[] | select(.kind != "Namespace") | .metadata.namespace] | unique | join(",")')" "mlplane" \
  "every namespaced object is in namespace mlplane"
assert_eq "$(q '.[] | select(.kind == "Namespace") | .metadata.labels["pod-security.kubernetes.io/enforce"]')" \
  "restricted" "the namespace enforces the restricted Pod Security Standard"
dep() { jq -r ".[] | select(.kind == \"Deployment\") | $1" "$B"; }
ctr() { dep ".spec.template.spec.containers[0] | $1"; }
assert_eq "$(dep .spec.replicas)" "1" "one replica"
assert_eq "$(dep .spec.strategy.type)" "Recreate" "Recreate: never two pods on one SQLite home"
assert_eq "$(ctr .image)" "ghcr.io/mlplane/mlplane:$VERSION" "the image is the one the Dockerfile builds, at this version"
assert_eq "$(ctr '.args | join(" ")')" "server --listen 0.0.0.0:5000 --auth" "the server's arguments (beyond loopback, with authentication)"
assert_eq "$(ctr '.env[] | select(.name == "MLPLANE_HOME") | .value')" "/var/lib/mlplane" "MLPLANE_HOME"
assert_eq "$(dep .spec.template.spec.serviceAccountName)" "mlplane" "the server runs as ServiceAccount mlplane"
assert_eq "$(dep .spec.template.spec.securityContext.runAsNonRoot)/$(dep .spec.template.spec.securityContext.runAsUser)" \
  "true/10001" "non-root, uid 10001 (the Dockerfile's user)"
assert_eq "$(ctr .securityContext.readOnlyRootFilesystem)/$(ctr .securityContext.allowPrivilegeEscalation)/$(ctr '.securityContext.capabilities.drop | join(",")')" \
  "true/false/ALL" "read-only root, no privilege escalation, no capabilities"
assert_eq "$(ctr '[.volumeMounts[] | .mountPath] | sort | join(" ")')" "/tmp /var/lib/mlplane" \
  "the home and /tmp are the only writable paths"
assert_eq "$(dep '.spec.template.spec.volumes[] | select(.name == "home") | .persistentVolumeClaim.claimName')" \
  "$(q '.[] | select(.kind == "PersistentVolumeClaim") | .metadata.name')" "the home is the PVC"
assert_eq "$(dep '.spec.template.spec.volumes[] | select(.name == "tmp") | .emptyDir != null')" "true" "/tmp is an emptyDir"
[ -n "$(ctr '.resources.requests.cpu // empty')" ] && [ -n "$(ctr '.resources.limits.memory // empty')" ] ||
  fail "the server's container has requests and a memory limit"
# selectors: the Deployment's, the Service's and the NetworkPolicy's all pick the pod template
tmpl=$(dep '.spec.template.metadata.labels')
for sel in '.[] | select(.kind == "Deployment") | .spec.selector.matchLabels' \
           '.[] | select(.kind == "Service") | .spec.selector' \
           '.[] | select(.kind == "NetworkPolicy") | .spec.podSelector.matchLabels'; do
  assert_eq "$(q "$sel" | jq --argjson t "$tmpl" 'to_entries | all(.key as $k | .value == $t[$k])')" "true" \
    "$sel picks the server's pods"
done
assert_eq "$(q '.[] | select(.kind == "Service") | .spec.ports[0] | "\(.port)/\(.targetPort)"')" "5000/http" \
  "the Service: port 5000 to the container's http port"
assert_eq "$(ctr '.ports[] | select(.name == "http") | .containerPort')" "5000" "the container's http port is 5000"
assert_eq "$(q '.[] | select(.kind == "NetworkPolicy") | [.spec.ingress[].ports[] | "\(.protocol)/\(.port)"] | join(" ")')" \
  "TCP/5000" "the NetworkPolicy lets in TCP 5000 only"
assert_eq "$(q '.[] | select(.kind == "ServiceAccount" and .metadata.name == "mlplane-step") | .automountServiceAccountToken')" \
  "false" "steps get no API token"
ok "deploy/base: one replica, Recreate, the image at $VERSION, non-root, read-only root, selectors and ports agree"

# the Deployment's arguments and probes against the real server, listening on 0.0.0.0 as there
listen=$(ctr '.args | index("--listen") as $i | .[$i + 1]')
assert_eq "${listen%:*}" "0.0.0.0" "the server listens on every address in its pod"
"$MLPLANE" server --listen 0.0.0.0:0 --auth >"$T_DIR/server.out" 2>"$T_DIR/server.err" &
SERVER_PID=$!
ALL_SERVER_PIDS=$SERVER_PID
wait_for "the server's first line" 20 grep -q "listening on" "$T_DIR/server.out"
port=$(sed -n 's|^mlplane server listening on http://0\.0\.0\.0:\([0-9]*\) .*|\1|p' "$T_DIR/server.out")
[ -n "$port" ] || fail "the server did not listen on 0.0.0.0: $(cat "$T_DIR/server.out" "$T_DIR/server.err")"
for probe in startupProbe readinessProbe livenessProbe; do
  path=$(ctr ".$probe.httpGet.path")
  assert_eq "$(ctr ".$probe.httpGet.port")" "http" "$probe targets the http port"
  wait_for "$probe $path" 20 curl -sf "http://127.0.0.1:$port$path"
done
stop_server "$SERVER_PID" || fail "the server did not exit 0 on SIGTERM"
ok "the probes' paths ($(ctr '[.startupProbe, .readinessProbe, .livenessProbe | .httpGet.path] | unique | join(", ")')) answer 200 on mlplane server --listen 0.0.0.0:PORT"

# ---- RBAC: least privilege, and documented -------------------------------------------------
for d in $DIRS; do
  f="$T_DIR/${d//\//-}.json"
  rules='[.[] | select(.kind == "Role" or .kind == "ClusterRole") | .rules[]]'
  assert_eq "$(jq "$rules | map(.apiGroups + .resources + .verbs) | flatten | index(\"*\")" "$f")" "null" \
    "deploy/$d: no wildcard in any rule"
  assert_eq "$(jq "$rules | map(.resources) | flatten | map(select(. == \"secrets\" or . == \"pods/exec\")) | length" "$f")" \
    "0" "deploy/$d: no rule on secrets or pods/exec"
  assert_eq "$(jq '[.[] | select(.kind == "Role" or .kind == "ClusterRole") | .rules[] | select(.resources | index("pods")) | .verbs[]] | map(select(. != "get" and . != "list" and . != "watch")) | length' "$f")" \
    "0" "deploy/$d: pods are only read (Jobs create them)"
  # every rule is a row of the README's table: | GROUPS | RESOURCES | VERBS | why |
  jq -r "$rules | .[] | \"| \" + (.apiGroups | map(if . == \"\" then \"core\" else . end) | join(\", \")) + \" | \" + (.resources | join(\", \")) + \" | \" + (.verbs | join(\", \")) + \" |\"" "$f" |
    while IFS= read -r row; do
      grep -qF -- "$row" "$MLPLANE_SRC/README.md" || fail "deploy/$d: the README's RBAC table has no row '$row'"
      grep -qF -- "$row" "$MLPLANE_SRC/docs/kubernetes.md" || fail "deploy/$d: docs/kubernetes.md has no row '$row'"
    done
  for b in RoleBinding ClusterRoleBinding; do
    jq -r ".[] | select(.kind == \"$b\") | .subjects[] | \"\(.kind)/\(.name)/\(.namespace)\"" "$f" | while IFS= read -r s; do
      assert_eq "$s" "ServiceAccount/mlplane/mlplane" "deploy/$d: a $b grants to mlplane server's ServiceAccount only"
    done
  done
done
ok "RBAC: no wildcards, no secrets, pods read only; every rule of base and overlays is in README.md and docs/kubernetes.md"

# ---- overlays: the base's objects unchanged but the Role, plus their own -----------------------
for o in kueue keda; do
  f="$T_DIR/overlays-$o.json"
  assert_eq "$(jq -c '[.[] | select(.kind != "Role")] | sort_by(.kind, .metadata.name)' "$B")" \
    "$(jq -c --slurpfile b "$B" '[.[] | select(.kind != "Role") | select(. as $x | $b[0] | any(.kind == $x.kind and .metadata.name == $x.metadata.name))] | sort_by(.kind, .metadata.name)' "$f")" \
    "overlays/$o keeps the base's objects as they are"
  assert_eq "$(jq -c '[.[] | select(.kind == "Role") | .rules[]]' "$B")" \
    "$(jq -c --argjson n "$(jq '[.[] | select(.kind == "Role") | .rules[]] | length' "$B")" '[.[] | select(.kind == "Role") | .rules[]][:$n]' "$f")" \
    "overlays/$o only appends rules to the Role"
done
K="$T_DIR/overlays-kueue.json"
assert_eq "$(jq -r '[.[] | select(.kind == "Role") | .rules[] | select(.apiGroups == ["kueue.x-k8s.io"]) | .resources[]] | sort | join(",")' "$K")" \
  "localqueues,localqueues/status,workloads,workloads/status" "kueue: the Role reads Workloads and LocalQueues"
cq=$(jq -r '.[] | select(.kind == "LocalQueue") | .spec.clusterQueue' "$K")
assert_eq "$(jq -r --arg c "$cq" '.[] | select(.kind == "ClusterQueue" and .metadata.name == $c) | .metadata.name' "$K")" "$cq" \
  "kueue: the LocalQueue names the sample ClusterQueue"
assert_eq "$(jq -r '.[] | select(.kind == "LocalQueue") | "\(.metadata.namespace)/\(.metadata.name)"' "$K")" "mlplane/default" \
  "kueue: LocalQueue default in namespace mlplane (the queue of steps that name none)"
fl=$(jq -r '[.[] | select(.kind == "ClusterQueue") | .spec.resourceGroups[].flavors[].name] | unique | join(",")' "$K")
assert_eq "$(jq -r '[.[] | select(.kind == "ResourceFlavor") | .metadata.name] | join(",")' "$K")" "$fl" \
  "kueue: the ClusterQueue's flavor is the sample ResourceFlavor"
assert_eq "$(jq -r '[.[] | select(.kind == "ClusterQueue" or .kind == "ResourceFlavor" or .kind == "ClusterRole" or .kind == "ClusterRoleBinding") | .metadata.namespace // "none"] | unique | join(",")' "$K")" \
  "none" "kueue: cluster-scoped objects carry no namespace"
E="$T_DIR/overlays-keda.json"
assert_eq "$(jq -r '[.[] | select(.kind == "Role") | .rules[] | select(.apiGroups == ["keda.sh"]) | .resources[]] | sort | join(",")' "$E")" \
  "scaledobjects,scaledobjects/status" "keda: the Role manages ScaledObjects"
ok "overlays kueue and keda: the base unchanged but for rules appended to the Role, and their own objects consistent"

finish
