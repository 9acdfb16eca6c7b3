#!/usr/bin/env bash
# Bring up a real Kubernetes control plane with fake GPU nodes on loopback.
#
# Usage: tests/cluster/up.sh [DIR]
#   DIR   directory for this cluster (created; must be new or empty). Default: a fresh
#         mktemp directory, so concurrent invocations never share state.
#   env PHAEDO_K8S_BIN            directory holding etcd, kube-apiserver,
#                                 kube-controller-manager, kube-scheduler, kubectl, kwok
#                                 (default: built/reused by tests/peers/kubernetes/build.sh)
#   env PHAEDO_CLUSTER_TIMEOUT    seconds to wait for readiness (default 180)
#
# Starts, each on its own free 127.0.0.1 port:
#   etcd 3.6 (data on tmpfs under /dev/shm when available, --unsafe-no-fsync)
#   kube-apiserver: serving cert from a self-made CA (openssl), static token auth, RBAC,
#     service-account signing keys (TokenRequest works)
#   kube-controller-manager (token kubeconfig; the controllers listed in CONTROLLERS)
#   kube-scheduler (token kubeconfig)
#   kwok, managing nodes annotated kwok.x-k8s.io/node=fake, with the Stages in
#     manifests/kwok-stages.yaml
# then creates manifests/driver-rbac.yaml, manifests/job-pod-policy.yaml (job pods stay on
# their leased node) and the two GPU nodes of manifests/gpu-nodes.yaml
# and waits until /readyz is 200, both controllers are healthy, the nodes are Ready and
# the default ServiceAccount exists.
#
# Writes into DIR: env (KEY=VALUE lines, no quoting; source it or parse it),
# admin.kubeconfig, driver.kubeconfig, pki/, logs/, pids/. The last stdout line is the
# path of the env file. tests/cluster/down.sh DIR stops everything and removes DIR.
# On failure everything started is stopped again (logs are kept in DIR/logs unless it
# was a fresh mktemp directory; set PHAEDO_CLUSTER_KEEP_FAILED=1 to keep those too).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly REPO_DIR="$SCRIPT_DIR/../.."
readonly TIMEOUT=${PHAEDO_CLUSTER_TIMEOUT:-180}
# Controllers of kube-controller-manager: namespace deletion, default ServiceAccounts and
# kube-root-ca.crt, garbage collection, the admin/edit/view aggregation the driver's
# RoleBindings rely on, node lifecycle and taint eviction (removes the not-ready taint
# new nodes get; evicts on NoExecute), pod GC (pods of deleted nodes), and
# the workload controllers the end-to-end jobs use (Deployment, DaemonSet, Job).
readonly CONTROLLERS=namespace-controller,serviceaccount-controller,root-ca-certificate-publisher-controller,garbage-collector-controller,clusterrole-aggregation-controller,node-lifecycle-controller,taint-eviction-controller,pod-garbage-collector-controller,deployment-controller,replicaset-controller,daemonset-controller,job-controller,ttl-after-finished-controller
readonly LEASE_NAMESPACE=phaedo-leases

T0=$EPOCHREALTIME
elapsed() { awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf 'up.sh [%5ss]: %s\n' "$(elapsed)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v openssl >/dev/null || die "openssl not found"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found (used to pick free ports)"

# --- directory ------------------------------------------------------------------------
FRESH_DIR=0
if [[ $# -ge 1 ]]; then
    DIR=$1
    mkdir -p "$DIR"
    [[ -z "$(ls -A "$DIR")" ]] || die "$DIR is not empty"
    DIR="$(cd "$DIR" && pwd)"
else
    DIR="$(mktemp -d "${TMPDIR:-/tmp}/phaedo-cluster.XXXXXX")"
    FRESH_DIR=1
fi
[[ "$DIR" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "cluster dir '$DIR' must not contain spaces or shell metacharacters"
touch "$DIR/.phaedo-cluster" # down.sh removes only directories carrying this marker
mkdir -p "$DIR"/{pki,logs,pids,kcm,scheduler}

cleanup_on_failure() {
    local rc=$?
    [[ $rc -ne 0 ]] || return 0
    log "failed (exit $rc); stopping what was started"
    for f in "$DIR"/logs/*.log; do
        [[ -f "$f" ]] || continue
        printf '\n--- last lines of %s ---\n' "$f" >&2
        tail -n 15 "$f" >&2
    done
    if [[ $FRESH_DIR -eq 1 && "${PHAEDO_CLUSTER_KEEP_FAILED:-0}" != 1 ]]; then
        "$SCRIPT_DIR/down.sh" "$DIR" >&2 || true
    else
        PHAEDO_CLUSTER_KEEP_DIR=1 "$SCRIPT_DIR/down.sh" "$DIR" >&2 || true
        log "kept $DIR for inspection"
    fi
}
trap cleanup_on_failure EXIT

# --- binaries ---------------------------------------------------------------------------
if [[ -n "${PHAEDO_K8S_BIN:-}" ]]; then
    BIN=$PHAEDO_K8S_BIN
else
    log "building or reusing the peers (tests/peers/kubernetes/build.sh)"
    BIN="$("$REPO_DIR/tests/peers/kubernetes/build.sh" | tail -n 1)"
fi
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b missing"
done
KUBECTL="$BIN/kubectl"

# --- ports ----------------------------------------------------------------------------
# Ask the kernel for free ports. They are released before the daemons bind them, so a
# concurrent process could grab one in between; the daemon then fails and so does up.sh.
read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT KWOK_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
API_URL="https://127.0.0.1:$API_PORT"
ETCD_URL="http://127.0.0.1:$ETCD_PORT"

# --- PKI and credentials ----------------------------------------------------------------
log "generating CA, serving certificate, service-account keys and tokens in $DIR/pki"
PKI=$DIR/pki
(
    cd "$PKI"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
        -subj "/CN=phaedo-test-ca-$API_PORT" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
        -subj "/CN=kube-apiserver" 2>/dev/null
    cat >apiserver.ext <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
        -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 644 ca.crt apiserver.crt sa.pub
)
tok() { openssl rand -hex 24; }
ADMIN_TOKEN=$(tok) DRIVER_TOKEN=$(tok) KCM_TOKEN=$(tok) SCHED_TOKEN=$(tok) KWOK_TOKEN=$(tok)
# token,user,uid,"groups"
(
    umask 077
    cat >"$PKI/tokens.csv" <<EOF
$ADMIN_TOKEN,phaedo-admin,uid-admin,"system:masters"
$DRIVER_TOKEN,phaedo-driver,uid-driver,"phaedo:drivers"
$KCM_TOKEN,system:kube-controller-manager,uid-kcm
$SCHED_TOKEN,system:kube-scheduler,uid-scheduler
$KWOK_TOKEN,kwok-controller,uid-kwok,"system:masters"
EOF
)

kubeconfig() { # file user token
    (
        umask 077
        cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: phaedo-test
  cluster:
    server: $API_URL
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2@phaedo-test
  context:
    cluster: phaedo-test
    user: $2
    namespace: default
current-context: $2@phaedo-test
EOF
    )
}
kubeconfig "$DIR/admin.kubeconfig" phaedo-admin "$ADMIN_TOKEN"
kubeconfig "$DIR/driver.kubeconfig" phaedo-driver "$DRIVER_TOKEN"
kubeconfig "$DIR/kcm.kubeconfig" system:kube-controller-manager "$KCM_TOKEN"
kubeconfig "$DIR/scheduler.kubeconfig" system:kube-scheduler "$SCHED_TOKEN"
kubeconfig "$DIR/kwok.kubeconfig" kwok-controller "$KWOK_TOKEN"

# --- processes --------------------------------------------------------------------------
# Each daemon runs in its own session with no inherited descriptors (a caller reading our
# stdout must not wait for the daemons), its pid in pids/<name>.pid.
# The command line is kept NUL-separated in pids/<name>.cmd for tests/cluster/ctl.sh.
start() { # name binary args...
    local name=$1
    shift
    printf '%s\0' "$@" >"$DIR/pids/$name.cmd"
    setsid "$@" </dev/null >"$DIR/logs/$name.log" 2>&1 &
    echo $! >"$DIR/pids/$name.pid"
    echo "$name" >>"$DIR/pids/order"
    log "started $name (pid $!)"
}
alive() { kill -0 "$(cat "$DIR/pids/$1.pid")" 2>/dev/null; }

# wait_for DESCRIPTION PROCESS-NAME COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local what=$1 proc=$2
    shift 2
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        [[ -z "$proc" ]] || alive "$proc" || die "$proc exited while waiting for $what"
        ((SECONDS < deadline)) || die "timed out after ${TIMEOUT}s waiting for $what"
        sleep 0.2
    done
    log "$what"
}

if [[ -d /dev/shm && -w /dev/shm ]]; then
    ETCD_DATA="$(mktemp -d /dev/shm/phaedo-etcd.XXXXXX)"
else
    ETCD_DATA="$DIR/etcd-data"
    mkdir -m 700 "$ETCD_DATA"
fi
echo "$ETCD_DATA" >"$DIR/etcd-data-dir"

start etcd "$BIN/etcd" --name=phaedo-test --data-dir="$ETCD_DATA" \
    --listen-client-urls="$ETCD_URL" --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="phaedo-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level=warn
wait_for "etcd healthy" etcd curl -fsS "$ETCD_URL/health"

start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers="$ETCD_URL" \
    --bind-address=127.0.0.1 --secure-port="$API_PORT" --advertise-address=127.0.0.1 \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --cert-dir="$PKI" \
    --client-ca-file="$PKI/ca.crt" \
    --token-auth-file="$PKI/tokens.csv" \
    --anonymous-auth=false \
    --authorization-mode=RBAC \
    --service-account-issuer="$API_URL" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --profiling=false
api_ready() { curl -fsS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$API_URL/readyz"; }
wait_for "kube-apiserver /readyz 200" kube-apiserver api_ready
T_API=$(elapsed)

start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig="$DIR/kcm.kubeconfig" \
    --authentication-kubeconfig="$DIR/kcm.kubeconfig" --authorization-kubeconfig="$DIR/kcm.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --cert-dir="$DIR/kcm" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --controllers="$CONTROLLERS" \
    --node-monitor-period=5s --node-monitor-grace-period=40s \
    --profiling=false
start kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig="$DIR/scheduler.kubeconfig" \
    --authentication-kubeconfig="$DIR/scheduler.kubeconfig" --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --cert-dir="$DIR/scheduler" \
    --leader-elect=false \
    --profiling=false
# --node-lease-duration-seconds: kwok's built-in default is 0 (no node Leases; only
# kwokctl defaults it to 40), and without Leases the heartbeat-with-lease stage refreshes
# node status only every ~10 min, so node-lifecycle would mark the nodes unreachable.
# kwok's own server (logs/exec/metrics of fake pods) listens on a private port; the
# --node-port advertised in node status points there, so nothing uses 10247/10250.
start kwok "$BIN/kwok" \
    --kubeconfig="$DIR/kwok.kubeconfig" \
    --config="$SCRIPT_DIR/manifests/kwok-stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 \
    --node-ip=127.0.0.1 --node-port="$KWOK_PORT" \
    --server-address="127.0.0.1:$KWOK_PORT" \
    --cidr=10.244.0.0/16

K=("$KUBECTL" --kubeconfig="$DIR/admin.kubeconfig")
"${K[@]}" apply -f "$SCRIPT_DIR/manifests/driver-rbac.yaml" >&2
"${K[@]}" apply -f "$SCRIPT_DIR/manifests/job-pod-policy.yaml" >&2
"${K[@]}" create -f "$SCRIPT_DIR/manifests/gpu-nodes.yaml" >&2

health() { curl -fsSk "https://127.0.0.1:$1/healthz"; }
wait_for "kube-controller-manager healthy" kube-controller-manager health "$KCM_PORT"
wait_for "kube-scheduler healthy" kube-scheduler health "$SCHED_PORT"
nodes_ready() {
    local ready
    ready=$("${K[@]}" get nodes -l type=kwok \
        -o jsonpath='{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints[*].key}{"\n"}{end}')
    # Ready, and the node-lifecycle controller has removed node.kubernetes.io/not-ready.
    [[ $(grep -c '=True' <<<"$ready") -eq 2 ]] && ! grep -q 'node.kubernetes.io/' <<<"$ready"
}
wait_for "kwok nodes Ready, not-ready taint gone" kwok nodes_ready
wait_for "default ServiceAccount created" kube-controller-manager "${K[@]}" get serviceaccount default -n default
T_READY=$(elapsed)

# --- outputs ----------------------------------------------------------------------------
cat >"$DIR/env" <<EOF
PHAEDO_CLUSTER_DIR=$DIR
PHAEDO_K8S_BIN=$BIN
PHAEDO_K8S_API_URL=$API_URL
PHAEDO_K8S_CA=$PKI/ca.crt
PHAEDO_K8S_ADMIN_TOKEN=$ADMIN_TOKEN
PHAEDO_K8S_ADMIN_KUBECONFIG=$DIR/admin.kubeconfig
PHAEDO_K8S_DRIVER_USER=phaedo-driver
PHAEDO_K8S_DRIVER_TOKEN=$DRIVER_TOKEN
PHAEDO_K8S_DRIVER_KUBECONFIG=$DIR/driver.kubeconfig
PHAEDO_K8S_SA_ISSUER=$API_URL
PHAEDO_K8S_LEASE_NAMESPACE=$LEASE_NAMESPACE
PHAEDO_K8S_GPU_NODES=gpu-node-1,gpu-node-2
PHAEDO_K8S_GPU_RESOURCE=nvidia.com/gpu
PHAEDO_K8S_GPU_NODE_SELECTOR=nvidia.com/gpu.present=true
PHAEDO_K8S_GPU_TAINT=nvidia.com/gpu=present:NoSchedule
PHAEDO_K8S_COMPLETE_LABEL=phaedo.dev/kwok-complete
PHAEDO_ETCD_URL=$ETCD_URL
PHAEDO_K8S_READY_SECONDS=$T_READY
EOF
chmod 600 "$DIR/env"
printf 'apiserver_ready_s=%s\ncluster_ready_s=%s\n' "$T_API" "$T_READY" >"$DIR/timings"
log "ready: apiserver after ${T_API}s, whole cluster after ${T_READY}s"
trap - EXIT
cat "$DIR/env"
echo "$DIR/env"
