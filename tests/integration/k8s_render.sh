#!/bin/bash
# mlplane k8s render: golden files for every example under each option set (byte
# for byte), the same bytes twice, every object valid against the official
# Kubernetes schemas (1.32, 1.35, Kueue, KEDA and KServe CRDs) when the validator is there, kubectl
# decoding the Jobs and Deployments offline, and bad input refused with its
# position and no output. MLPLANE_UPDATE_GOLDEN=1 rewrites the golden files.
. "$(dirname "$0")/lib.sh"

GOLDEN="$MLPLANE_SRC/tests/golden/k8s"
declare -A SETS=([default]="" [kueue]="--kueue" [ns]="-n ml --image registry.example/ml:1 --server http://mlplane.ml:5000"
                 [keda]="--keda" [kserve]="--kserve")
cd "$MLPLANE_SRC"
rendered=()
for f in examples/*/*.yaml; do
  for set in default kueue ns keda kserve; do
    name="$(basename "$(dirname "$f")")-$(basename "$f" .yaml).$set.yaml"
    # shellcheck disable=SC2086
    mlp k8s render ${SETS[$set]} "$f" > "$T_DIR/$name" 2> "$T_DIR/$name.err" || fail "render $set $f: $(cat "$T_DIR/$name.err")"
    # shellcheck disable=SC2086
    mlp k8s render ${SETS[$set]} "$f" 2>/dev/null | cmp -s - "$T_DIR/$name" || fail "render $set $f twice: different bytes"
    if [ "${MLPLANE_UPDATE_GOLDEN:-}" = 1 ]; then cp "$T_DIR/$name" "$GOLDEN/$name"; fi
    [ -f "$GOLDEN/$name" ] || fail "no golden file $GOLDEN/$name (MLPLANE_UPDATE_GOLDEN=1 writes it)"
    diff -u "$GOLDEN/$name" "$T_DIR/$name" > "$T_DIR/diff" || fail "$f ($set) differs from $name: $(head -40 "$T_DIR/diff")"
    rendered+=("$T_DIR/$name")
  done
done
ok "every example renders to its golden file under each option set, the same bytes twice"
assert_contains "$(cat "$T_DIR/breast-cancer-pipeline.ns.yaml")" "value: http://mlplane.ml:5000" "--server reaches the steps"
assert_contains "$(cat "$T_DIR/serving-deployment.ns.yaml")" "- http://mlplane.ml:5000" "--server reaches mlplane serve"
assert_not_contains "$(MLPLANE_SERVER=http://elsewhere:1 mlp k8s render examples/serving/deployment.yaml 2>/dev/null)" "elsewhere" "\$MLPLANE_SERVER is not the cluster's"

out=$(mlp k8s render examples/capacity/cluster.yaml 2>&1 >/dev/null)
assert_contains "$out" "examples/capacity/cluster.yaml:15:1: NodePool a100: nothing rendered" "nodes are said, not dropped"
out=$(mlp k8s render examples/scheduling/cluster.yaml 2>&1 >/dev/null)
assert_contains "$out" "cohort shared (borrowing, lending, reclaiming) has no plain Kubernetes equivalent" "what plain Kubernetes cannot express"
ok "objects without a Kubernetes object, and what plain Kubernetes cannot express, are said on stderr"

# serving: per-version Deployments behind the router; --keda, --kserve
d=$(mlp k8s render -o json examples/serving/deployment.yaml 2>"$T_DIR/serve.err")
assert_eq "$(jq -r '[.items[] | .kind + "/" + .metadata.name] | join(" ")' <<<"$d")" \
  "ServiceAccount/mlplane-step Deployment/breast-cancer-v1 Service/breast-cancer-v1 HorizontalPodAutoscaler/breast-cancer-v1 PodDisruptionBudget/breast-cancer-v1 Deployment/breast-cancer-v2 Service/breast-cancer-v2 HorizontalPodAutoscaler/breast-cancer-v2 PodDisruptionBudget/breast-cancer-v2 Deployment/breast-cancer Service/breast-cancer PodDisruptionBudget/breast-cancer" "serving objects"
assert_eq "$(jq -r '.items[] | select(.kind == "Deployment" and .metadata.name == "breast-cancer-v2") | .spec.template.spec.containers[0].command | join(" ")' <<<"$d")" \
  "mlplane serve models:/breast-cancer/2 --server http://mlplane.mlplane.svc.cluster.local:5000 --model-dir /mlplane/model --listen 0.0.0.0:8080" "a version's command"
assert_eq "$(jq -r '.items[] | select(.kind == "Deployment" and .metadata.name == "breast-cancer") | [.spec.replicas, (.spec.template.spec.containers[0].command | join(" "))] | map(tostring) | join(" ")' <<<"$d")" \
  "2 mlplane route breast-cancer --listen 0.0.0.0:8080 --stable 1=http://breast-cancer-v1:8080 --canary 2=http://breast-cancer-v2:8080 --canary-percent 10 --sticky-header X-User" "the router's command"
assert_eq "$(jq -r '.items[] | select(.kind == "HorizontalPodAutoscaler" and .metadata.name == "breast-cancer-v1") | .spec | [.minReplicas, .maxReplicas, .metrics[0].pods.metric.name, .metrics[0].pods.target.averageValue, .behavior.scaleDown.stabilizationWindowSeconds] | map(tostring) | join(" ")' <<<"$d")" \
  "1 4 mlplane_serve_inflight 8 300" "the HPA"
assert_eq "$(jq -r '.items[] | select(.kind == "Service" and .metadata.name == "breast-cancer-v1") | .spec.selector | to_entries | map(.key + "=" + .value) | join(",")' <<<"$d")" \
  "mlplane.dev/deployment=breast-cancer,mlplane.dev/version=1" "a version's Service selects its pods"
assert_contains "$(cat "$T_DIR/serve.err")" "replicas.min 0 renders as 1 (an HPA cannot scale to zero, nor does a plain Deployment on idleness); render with --keda" "scale to zero needs --keda"
assert_contains "$(cat "$T_DIR/serve.err")" "spec.listen 127.0.0.1:8080 is ignored on a cluster" "listen"
k=$(mlp k8s render -o json --keda --prometheus http://prom.example:9090 examples/serving/deployment.yaml 2>/dev/null)
assert_eq "$(jq -r '.items[] | select(.kind == "ScaledObject" and .metadata.name == "breast-cancer-v2") | .spec | [.minReplicaCount, .maxReplicaCount, .cooldownPeriod, .triggers[0].metadata.serverAddress, .triggers[0].metadata.threshold] | map(tostring) | join(" ")' <<<"$k")" \
  "0 4 600 http://prom.example:9090 8" "a ScaledObject scales to zero"
assert_contains "$(jq -r '.items[] | select(.kind == "ScaledObject" and .metadata.name == "breast-cancer-v2") | .spec.triggers[0].metadata.query' <<<"$k")" 'mlplane_serve_waiting{namespace="default",pod=~"breast-cancer-[a-z0-9]+-[a-z0-9]+",version="2"}' "held requests wake a version"
assert_eq "$(jq -r '[.items[] | select(.kind == "HorizontalPodAutoscaler")] | length' <<<"$k")" "0" "no HPA with --keda"
assert_contains "$(jq -r '.items[] | select(.kind == "Deployment" and .metadata.name == "breast-cancer") | .spec.template.spec.containers[0].command | join(" ")' <<<"$k")" "--ready-timeout" "the router holds requests for a version at zero"
s=$(mlp k8s render -o json --kserve examples/serving/deployment.yaml 2>"$T_DIR/kserve.err")
assert_eq "$(jq -r '.items[0].spec.predictor | [.canaryTrafficPercent, .model.protocolVersion, .model.storageUri, .scaleMetric, .scaleTarget] | map(tostring) | join(" ")' <<<"$s")" \
  "10 v2 http://mlplane.mlplane.svc.cluster.local:5000/api/v1/models/breast-cancer/versions/2/model.json concurrency 8" "an InferenceService whose new revision is the canary"
assert_contains "$(cat "$T_DIR/kserve.err")" "stickyHeader X-User is not rendered" "what KServe cannot express is said"
assert_contains "$(cat "$T_DIR/kserve.err")" "KServe's canary is the newest revision" "KServe's canary explained"
ok "serving: per-version Deployments, Services, HPAs or ScaledObjects and budgets behind the router; an InferenceService with --kserve"

# one file per object
mlp k8s render --out "$T_DIR/out" examples/breast-cancer/pipeline.yaml 2>/dev/null
assert_eq "$(ls "$T_DIR/out" | tr '\n' ' ')" "job-default-breast-cancer-check-data.yaml job-default-breast-cancer-evaluate.yaml job-default-breast-cancer-split.yaml job-default-breast-cancer-train.yaml serviceaccount-default-mlplane-step.yaml " "--out files"
mlp k8s render -o json examples/breast-cancer/pipeline.yaml 2>/dev/null | jq -e '.kind == "List" and (.items | length) == 5' >/dev/null || fail "-o json is a List"
job=$(mlp k8s render -o json examples/breast-cancer/pipeline.yaml 2>/dev/null | jq '.items[] | select(.metadata.name == "breast-cancer-train")')
assert_eq "$(jq -r '.spec.template.spec.containers[0].command | join(" ")' <<<"$job")" \
  "/mlplane/bin/ld.so --library-path /mlplane/bin/lib /mlplane/bin/mlplane launch -- mlplane xgb train --train /mlplane/work/steps/split/train --valid /mlplane/work/steps/split/test --rounds 100 --max-depth 4 --eta 0.1 --seed 42 --nthread 1 --model model.json --history metrics.json" "templates rendered for the pod"
assert_eq "$(jq -r '.spec.backoffLimit, .spec.template.spec.containers[0].resources.requests.cpu, .spec.template.spec.containers[0].resources.limits.memory' <<<"$job" | tr '\n' ' ')" "1 1 512Mi " "retries and resources"
assert_eq "$(jq -r '.spec.template.metadata.annotations["mlplane.dev/artifacts"] | fromjson | .fetch | map(.step + "/" + .output) | join(",")' <<<"$job")" "split/train,split/test" "what the launcher fetches"
ok "-o json, --out DIR, templates, retries, resources and the launcher's artifacts"

# gangs, sweeps, kueue
cat > "$T_DIR/gang.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: dist, namespace: ml}
spec:
  steps:
    - name: train
      image: python:3.11-slim
      command: [python, -c, "print(1)"]
      parallelism: 4
      queueName: team-a
      priorityClassName: batch-high
      timeoutSeconds: 600
      resources: {cpu: 500m, memory: 1Gi, nvidia.com/gpu: 1}
      nodeSelector: {accelerator: a100}
      tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]
YAML
g=$(mlp k8s render -o json --kueue "$T_DIR/gang.yaml" 2>/dev/null)
assert_eq "$(jq -r '[.items[].kind] | join(",")' <<<"$g")" "ServiceAccount,Service,Job" "a gang: Service and Job"
assert_eq "$(jq -r '.items[2].spec | [.completionMode, .completions, .parallelism, .suspend, .activeDeadlineSeconds] | map(tostring) | join(" ")' <<<"$g")" "Indexed 4 4 true 600" "Indexed Job, suspended for Kueue"
assert_eq "$(jq -r '.items[2].metadata.labels["kueue.x-k8s.io/queue-name"]' <<<"$g")" "team-a" "queue-name label"
assert_eq "$(jq -r '.items[2].spec.template.spec | [.subdomain, .priorityClassName, .nodeSelector.accelerator, .tolerations[0].operator, .containers[0].image] | join(" ")' <<<"$g")" "dist-train batch-high a100 Exists python:3.11-slim" "pod fields"
assert_eq "$(jq -r '.items[2].spec.template.spec.containers[0].env[] | select(.name == "MASTER_ADDR" or .name == "WORLD_SIZE") | .value' <<<"$g" | tr '\n' ' ')" "4 dist-train-0.dist-train " "rank variables"
assert_eq "$(jq -r '.items[1].spec.clusterIP' <<<"$g")" "None" "headless Service"
s=$(mlp k8s render -o json examples/sweep/pipeline.yaml 2>/dev/null)
n=$(jq '[.items[] | select(.kind == "Job" and .metadata.labels["mlplane.dev/trial"] != null)] | length' <<<"$s")
[ "$n" -gt 1 ] || fail "a sweep's trials are Jobs: $n"
ok "gangs (Indexed Job + headless Service + rank variables), sweep trials, --kueue"

# bad input: position, exit 2, nothing on stdout
cat > "$T_DIR/bad.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: a-pipeline-with-a-rather-long-name-indeed}
spec:
  steps:
    - name: train-the-model-for-good
      command: ["true"]
    - name: read
      command: [cat, "{{inputs.data}}"]
      inputs: [{name: data, path: no-such-file.csv}]
YAML
set +e
mlp k8s render "$T_DIR/bad.yaml" > "$T_DIR/bad.out" 2> "$T_DIR/bad.err"; rc=$?
set -e
assert_eq "$rc" "2" "exit status"
assert_eq "$(wc -c < "$T_DIR/bad.out" | tr -d ' ')" "0" "no partial output"
assert_contains "$(cat "$T_DIR/bad.err")" "bad.yaml:6:7: steps[train-the-model-for-good].name: the Job name \"a-pipeline-with-a-rather-long-name-indeed-train-the-model-for-good\" (pipeline name, step name) is not a DNS-1123 label of at most 63 characters" "name error with position"
assert_contains "$(cat "$T_DIR/bad.err")" "bad.yaml:10:" "missing input with position"
assert_contains "$(cat "$T_DIR/bad.err")" "nothing was rendered" "says nothing was rendered"
ok "bad input: FILE:LINE:COL, exit 2, no partial output"

cat > "$T_DIR/nodes.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: NodePool
metadata: {name: gpu}
spec:
  count: 2
  capacity: {cpu: "32", memory: 256Gi, nvidia.com/gpu: 8}
---
apiVersion: mlplane.dev/v1
kind: Pipeline
metadata: {name: big}
spec:
  steps:
    - name: fits
      command: ["true"]
      parallelism: 2
      resources: {nvidia.com/gpu: 8}
    - name: never
      command: ["true"]
      parallelism: 4
      resources: {nvidia.com/gpu: 8}
YAML
set +e
mlp k8s render "$T_DIR/nodes.yaml" > "$T_DIR/big.out" 2> "$T_DIR/big.err"; rc=$?
set -e
assert_eq "$rc" "2" "a gang larger than the declared nodes"
assert_eq "$(wc -c < "$T_DIR/big.out" | tr -d ' ')" "0" "no partial output"
assert_contains "$(cat "$T_DIR/big.err")" "nodes.yaml:17:7: steps[never]: can never run on the nodes the files declare: gang" "gang error with position"
assert_not_contains "$(cat "$T_DIR/big.err")" "steps[fits]" "the gang that fits"
ok "a gang larger than any set of the declared nodes is refused at its position"

cat > "$T_DIR/badserve.yaml" <<'YAML'
apiVersion: mlplane.dev/v1
kind: Deployment
metadata: {name: fraud}
spec:
  model: {name: fraud, alias: Champion}
  shadow: {version: 3}
YAML
set +e
mlp k8s render "$T_DIR/badserve.yaml" > "$T_DIR/bs.out" 2> "$T_DIR/bs.err"; rc=$?
set -e
assert_eq "$rc" "2" "a version name that is no Service name"
assert_eq "$(wc -c < "$T_DIR/bs.out" | tr -d ' ')" "0" "no partial output"
assert_contains "$(cat "$T_DIR/bs.err")" "badserve.yaml:5:31: spec.model.alias: the Deployment and Service name \"fraud-Champion\" (deployment name, alias) is not a DNS-1035 label" "alias error with position"
ok "a serving version whose name is no DNS-1035 label is refused at its field"

# the official schemas, when the validator is here
V=${MLPLANE_K8S_SCHEMAS:-$MLPLANE_SRC/../shared/k8s-schemas}
if command -v node >/dev/null && [ -f "$V/validate.mjs" ] && [ -d "$V/node_modules" ]; then
  for ver in 1.32 1.35; do
    node "$V/validate.mjs" -q --k8s-version "$ver" "${rendered[@]}" > "$T_DIR/valid.out" 2>&1 || fail "schemas $ver: $(grep -v '^ok' "$T_DIR/valid.out" | head -20)"
    mlp k8s render --kueue "$T_DIR/gang.yaml" 2>/dev/null | node "$V/validate.mjs" -q --k8s-version "$ver" - > "$T_DIR/valid.out" 2>&1 || fail "gang schemas $ver: $(cat "$T_DIR/valid.out")"
  done
  for crd in keda.sh/v1alpha1 serving.kserve.io/v1beta1 kueue.x-k8s.io/v1beta1; do
    node "$V/validate.mjs" --list-kinds | grep -q "^$crd " || fail "the validator has no $crd CRD"
  done
  ok "every rendered object is valid against the Kubernetes 1.32 and 1.35 schemas and the Kueue, KEDA and KServe CRDs"
else
  echo "# skip: schema validation (needs node and $V/validate.mjs with its node_modules: cd $V && npm ci)"
fi
if command -v kubectl >/dev/null; then
  for f in "$T_DIR"/out/job-*.yaml; do
    kubectl set image --local -f "$f" step=x -o json > /dev/null 2> "$T_DIR/kubectl.err" || fail "kubectl decodes $f: $(cat "$T_DIR/kubectl.err")"
  done
  mlp k8s render --out "$T_DIR/serve" examples/serving/deployment.yaml 2>/dev/null
  for f in "$T_DIR"/serve/deployment-*.yaml; do
    kubectl set image --local -f "$f" '*=x' -o yaml > "$T_DIR/kubectl.out" 2> "$T_DIR/kubectl.err" || fail "kubectl decodes $f: $(cat "$T_DIR/kubectl.err")"
    grep -q "image: x" "$T_DIR/kubectl.out" || fail "kubectl set image on $f"
  done
  ok "kubectl decodes every rendered Job and Deployment offline"
else
  echo "# skip: kubectl not installed"
fi
finish
