#!/usr/bin/env bash
# The Phaedo GPU test stage, as a cnl-server job runs it: deploy the freshly built
# device plugin (a DaemonSet) and admission webhook (Deployment, Service and a
# MutatingWebhookConfiguration) into the leased namespace, run a TensorFlow GPU pod on
# the leased node and wait until it has Succeeded.
#
# Needs the lease's environment (KUBECONFIG, PHAEDO_LEASE_NODE, PHAEDO_LEASE_NAMESPACE,
# PHAEDO_LEASE_TOLERATION, PHAEDO_LEASE_NODE_SELECTOR, PHAEDO_LEASE_JOB) and kubectl on
# PATH or in $KUBECTL. DEVICE_PLUGIN_IMAGE and WEBHOOK_IMAGE name the images the build
# job pushed. PHAEDO_HOLD_SECONDS keeps the node a while longer (tests).
# Prints "LEASE <node> <start> <end>" (epoch seconds) last, for the tests that check
# that no two jobs held one node at the same time.
set -euo pipefail
K=${KUBECTL:-kubectl}
start=$(date +%s.%N)
echo "leased node $PHAEDO_LEASE_NODE, namespace $PHAEDO_LEASE_NAMESPACE"
[ "$(stat -c %a "$KUBECONFIG")" = 600 ] || { echo "KUBECONFIG is not 0600" >&2; exit 3; }
# The GPU nodes' own taint is tolerated too: the pods ask for GPUs.
TOL="[$PHAEDO_LEASE_TOLERATION, {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]"
SEL=$PHAEDO_LEASE_NODE_SELECTOR

"$K" apply -f - <<EOF
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: phaedo-device-plugin, labels: {app.kubernetes.io/part-of: phaedo}}
spec:
  selector: {matchLabels: {app: phaedo-device-plugin}}
  template:
    metadata: {labels: {app: phaedo-device-plugin}}
    spec:
      nodeSelector: $SEL
      tolerations: $TOL
      containers: [{name: plugin, image: "${DEVICE_PLUGIN_IMAGE:-registry.local/phaedo/device-plugin:dev}"}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: phaedo-webhook}
spec:
  replicas: 1
  selector: {matchLabels: {app: phaedo-webhook}}
  template:
    metadata: {labels: {app: phaedo-webhook}}
    spec:
      nodeSelector: $SEL
      tolerations: $TOL
      containers: [{name: webhook, image: "${WEBHOOK_IMAGE:-registry.local/phaedo/webhook:dev}"}]
---
apiVersion: v1
kind: Service
metadata: {name: phaedo-webhook}
spec:
  selector: {app: phaedo-webhook}
  ports: [{port: 443, targetPort: 9443}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: phaedo-gpu-$PHAEDO_LEASE_JOB
  labels: {phaedo.dev/job: "$PHAEDO_LEASE_JOB"}
webhooks:
- name: gpu.phaedo.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig: {service: {name: phaedo-webhook, namespace: "$PHAEDO_LEASE_NAMESPACE", path: /mutate}}
  rules: [{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}]
  objectSelector: {matchLabels: {phaedo.dev/inject: gpu}}
EOF

"$K" rollout status daemonset/phaedo-device-plugin --timeout=120s
"$K" apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: tensorflow-gpu
  labels: {phaedo.dev/kwok-complete: Succeeded}
spec:
  restartPolicy: Never
  nodeSelector: $SEL
  tolerations: $TOL
  containers:
  - name: tensorflow
    image: tensorflow/tensorflow:2.18.0-gpu
    command: [python, -c, "import tensorflow as tf; assert tf.config.list_physical_devices('GPU')"]
    resources: {limits: {nvidia.com/gpu: 1}}
EOF
"$K" wait --for=jsonpath='{.status.phase}'=Succeeded pod/tensorflow-gpu --timeout=180s
echo "tensorflow-gpu Succeeded on $("$K" get pod tensorflow-gpu -o jsonpath='{.spec.nodeName}')"
sleep "${PHAEDO_HOLD_SECONDS:-0}"
echo "LEASE $PHAEDO_LEASE_NODE $start $(date +%s.%N)"
