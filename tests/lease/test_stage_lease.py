"""The node lease through the installed stage programs, on the real loopback cluster.

StageJob:        prepare → a script that uses kubectl with the job's KUBECONFIG to apply a
                 DaemonSet, a Deployment, a Service, a MutatingWebhookConfiguration and a
                 GPU pod (toleration + node selector + kwok completion label), waits for
                 Succeeded → cleanup; the cluster is as before.
OutsideTheLease: a job acting outside its lease is refused.
Admin:           phaedo-admin leases / reap / release NODE; the wait timeout and a cancel
                 while waiting.

Environment: PHAEDO_BIN (installed programs), PHAEDO_CLUSTER_ENV (use a running cluster)
or PHAEDO_K8S_BIN; CI=true turns a missing peer into a failure. Standard library only.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "protocol"))
sys.path.insert(0, os.path.join(REPO, "tests", "cluster"))

from runner_emulator import Job, Profile, job_payload, process_files, program  # noqa: E402
from smoke_test import DOWN_SH, UP_SH, find_binaries, parse_env_file  # noqa: E402

CLUSTER = {}
STARTED_DIR = None
NODES = ["gpu-node-1", "gpu-node-2"]


def setUpModule():
    global STARTED_DIR
    given = os.environ.get("PHAEDO_CLUSTER_ENV")
    if given:
        CLUSTER.update(parse_env_file(given))
        return
    binaries = find_binaries()  # skips, or fails under CI, when the peers are missing
    proc = subprocess.run([UP_SH], env=dict(os.environ, PHAEDO_K8S_BIN=binaries),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise AssertionError("tests/cluster/up.sh failed:\n" + proc.stderr.decode()[-3000:])
    CLUSTER.update(parse_env_file(proc.stdout.decode().strip().splitlines()[-1]))
    STARTED_DIR = CLUSTER["PHAEDO_CLUSTER_DIR"]


def tearDownModule():
    if STARTED_DIR:
        subprocess.run([DOWN_SH, STARTED_DIR], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def kubectl(*args, kubeconfig=None, stdin=None, check=True):
    """kubectl as the cluster administrator (or as `kubeconfig`)."""
    env = dict(os.environ, KUBECONFIG=kubeconfig or CLUSTER["PHAEDO_K8S_ADMIN_KUBECONFIG"])
    p = subprocess.run([os.path.join(CLUSTER["PHAEDO_K8S_BIN"], "kubectl"), *args], env=env,
                       input=stdin.encode() if stdin else None, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=False, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {p.stderr.decode()}")
    return p.stdout.decode()


def items(*resource):
    return json.loads(kubectl("get", *resource, "-o", "json"))["items"]


def cluster_state():
    """What a job must leave as it found: nodes' taints and labels, namespaces,
    cluster-scoped objects of the kinds a job can reach, held leases."""
    state = {}
    for n in items("nodes"):
        if n["metadata"]["name"] in NODES:
            state["node/" + n["metadata"]["name"]] = (
                sorted(json.dumps(t, sort_keys=True) for t in n["spec"].get("taints", [])),
                n["metadata"].get("labels", {}))
    state["namespaces"] = sorted(n["metadata"]["name"] for n in items("namespaces"))
    for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations", "clusterroles",
                 "clusterrolebindings", "priorityclasses"):
        state[kind] = sorted(o["metadata"]["name"] for o in items(kind))
    state["held leases"] = sorted(
        (l["metadata"]["name"], l["spec"].get("holderIdentity"))
        for l in items("leases", "-n", CLUSTER["PHAEDO_K8S_LEASE_NAMESPACE"]) if l["spec"].get("holderIdentity"))
    state["pods on gpu nodes"] = sorted(
        p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in items("pods", "-A")
        if p["spec"].get("nodeName") in NODES)
    return state


def lease(node):
    out = kubectl("get", "lease", node, "-n", CLUSTER["PHAEDO_K8S_LEASE_NAMESPACE"], "-o", "json", check=False)
    return json.loads(out) if out else None


def renewer_pids(key):
    return [pid for pid, cmdline in process_files()
            if b"lease-renew" in (args := cmdline.split(b"\0")) and key.encode() in args]


class LeaseStageTest(unittest.TestCase):
    next_job_id = 5000

    def setUp(self):
        if not CLUSTER:
            self.fail("no cluster")
        self.root = tempfile.mkdtemp(prefix="phaedo-lease-")
        self.kubectl = os.path.join(CLUSTER["PHAEDO_K8S_BIN"], "kubectl")
        self.jobs = []

    def tearDown(self):
        for job in self.jobs:
            job.cleanup()
            job.remove()
        shutil.rmtree(self.root, ignore_errors=True)

    def profile(self, selector="nvidia.com/gpu.present=true", wait_timeout=120, name="p"):
        os.makedirs(os.path.join(self.root, name), exist_ok=True)
        kube = (f'[kubernetes]\nkubeconfig = "{CLUSTER["PHAEDO_K8S_DRIVER_KUBECONFIG"]}"\n'
                f'node_selector = ["{selector}"]\nlease_duration_s = 10\nwait_timeout_s = {wait_timeout}\n'
                'teardown_timeout_s = 120\n'
                'allowed_cluster_kinds = ["admissionregistration.k8s.io/mutatingwebhookconfigurations", '
                '"admissionregistration.k8s.io/validatingwebhookconfigurations"]\n')
        return Profile(os.path.join(self.root, name), extra='lease = "kubernetes-node"', host_extra=kube)

    def new_job(self, profile):
        LeaseStageTest.next_job_id += 1
        job = Job(profile, job_payload(LeaseStageTest.next_job_id, runner_id=str(os.getpid() % 100000)))
        self.jobs.append(job)
        return job

    def prepared(self, profile):
        job = self.new_job(profile)
        rc, _, err = job.config()
        self.assertEqual(rc, 0, err)
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        self.assertIn("leased node", err)
        return job


class StageJob(LeaseStageTest):
    def test_phaedo_test_stage_end_to_end_and_the_cluster_is_as_before(self):
        before = cluster_state()
        job = self.prepared(self.profile())
        script = f"""
K={self.kubectl}
echo "node=$PHAEDO_LEASE_NODE namespace=$PHAEDO_LEASE_NAMESPACE"
test "$(stat -c %a "$KUBECONFIG")" = 600
TOL="[$PHAEDO_LEASE_TOLERATION, {{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]"
$K apply -f - <<EOF
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: nvidia-device-plugin}}
spec:
  selector: {{matchLabels: {{app: device-plugin}}}}
  template:
    metadata: {{labels: {{app: device-plugin}}}}
    spec:
      nodeSelector: $PHAEDO_LEASE_NODE_SELECTOR
      tolerations: $TOL
      containers: [{{name: plugin, image: nvcr.io/nvidia/k8s-device-plugin:v0.17.0}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: admission-webhook}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: webhook}}}}
  template:
    metadata: {{labels: {{app: webhook}}}}
    spec:
      nodeSelector: $PHAEDO_LEASE_NODE_SELECTOR
      tolerations: $TOL
      containers: [{{name: webhook, image: phaedo/admission-webhook:test}}]
---
apiVersion: v1
kind: Service
metadata: {{name: admission-webhook}}
spec:
  selector: {{app: webhook}}
  ports: [{{port: 443, targetPort: 8443}}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: phaedo-gpu-$PHAEDO_LEASE_NAMESPACE
  labels: {{phaedo.dev/job: "$PHAEDO_LEASE_JOB"}}
webhooks:
- name: gpu.phaedo.dev
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Ignore
  clientConfig:
    service: {{name: admission-webhook, namespace: $PHAEDO_LEASE_NAMESPACE, path: /mutate}}
  rules: [{{operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods]}}]
  objectSelector: {{matchLabels: {{phaedo.dev/gpu-webhook: "on"}}}}
---
apiVersion: v1
kind: Pod
metadata:
  name: tensorflow-gpu-test
  labels: {{phaedo.dev/kwok-complete: Succeeded}}
spec:
  restartPolicy: Never
  nodeSelector: $PHAEDO_LEASE_NODE_SELECTOR
  tolerations: $TOL
  containers:
  - name: tf
    image: tensorflow/tensorflow:latest-gpu
    command: [python, -c, "import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))"]
    resources: {{limits: {{nvidia.com/gpu: 1}}}}
EOF
$K wait --for=jsonpath='{{.status.phase}}'=Succeeded pod/tensorflow-gpu-test --timeout=120s
echo "ran on $($K get pod tensorflow-gpu-test -o jsonpath='{{.spec.nodeName}}')"
$K rollout status daemonset/nvidia-device-plugin --timeout=60s
$K get pods -o wide
"""
        rc, out, err = job.run(script, timeout=300)
        self.assertEqual(rc, 0, out + err)
        node = [l for l in out.splitlines() if l.startswith("node=")][0].split()[0][5:]
        self.assertIn(f"ran on {node}", out)
        held = lease(node)
        self.assertEqual(held["spec"]["holderIdentity"], job.key)
        self.assertEqual(held["metadata"]["annotations"]["phaedo.dev/phase"], "active")
        self.assertEqual(len(items("mutatingwebhookconfigurations", "-l", "phaedo.dev/job=" + job.key)), 1)
        kubeconfig = os.path.join(job.profile.state_dir, "kube", job.key + ".kubeconfig")
        with open(kubeconfig) as f:
            token = json.load(f)["users"][0]["user"]["token"]
        t0 = time.monotonic()
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        print(f"cleanup took {time.monotonic() - t0:.1f} s", file=sys.stderr)
        self.assertEqual(cluster_state(), before)
        self.assertEqual(renewer_pids(job.key), [])
        self.assertFalse(os.path.exists(os.path.join(job.profile.state_dir, "lease", "jobs", job.key)))
        self.assertFalse(os.path.exists(kubeconfig))
        with open(job.profile.admin_log) as f:
            self.assertNotIn(token, f.read())  # the token never reaches the admin log


class OutsideTheLease(LeaseStageTest):
    def test_a_job_acting_outside_its_lease_is_refused(self):
        victim = f"phaedo-victim-{os.getpid()}"
        kubectl("create", "namespace", victim)
        other_hook = f"phaedo-other-{os.getpid()}"
        kubectl("apply", "-f", "-", stdin=f"""apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {{name: {other_hook}, labels: {{phaedo.dev/job: r1-j1}}}}
webhooks: []
""")
        try:
            before = cluster_state()
            job = self.prepared(self.profile())
            attempts = [
                ("delete another namespace", f"delete namespace {victim}"),
                ("change another node", 'label node "$OTHER" stolen=yes --overwrite'),
                ("change its own node", 'taint node "$PHAEDO_LEASE_NODE" mine=yes:NoSchedule'),
                ("bind itself to cluster-admin",
                 'create clusterrolebinding escalate --clusterrole=cluster-admin '
                 '--serviceaccount="$PHAEDO_LEASE_NAMESPACE:phaedo-job"'),
                ("create a disallowed cluster-scoped kind", "create priorityclass evil --value=1000000"),
                ("create another namespace", "create namespace escape"),
                ("delete another job's webhook configuration", f"delete mutatingwebhookconfiguration {other_hook}"),
                ("read the leases", "get leases -n " + CLUSTER["PHAEDO_K8S_LEASE_NAMESPACE"]),
                ("run a pod on another node by nodeName",
                 "run stray --image=busybox --restart=Never "
                 "--overrides='{\"spec\":{\"nodeName\":\"'\"$OTHER\"'\",\"nodeSelector\":'\"$PHAEDO_LEASE_NODE_SELECTOR\"'}}'"),
                ("tolerate every lease taint and select another node",
                 "run stray2 --image=busybox --restart=Never --overrides='{\"spec\":{\"nodeSelector\":"
                 "{\"kubernetes.io/hostname\":\"'\"$OTHER\"'\"},\"tolerations\":[{\"key\":\"phaedo.dev/lease\","
                 "\"operator\":\"Exists\"}]}}'"),
            ]
            body = [f"K={self.kubectl}",
                    'OTHER=gpu-node-1; [ "$PHAEDO_LEASE_NODE" != gpu-node-1 ] || OTHER=gpu-node-2']
            for what, args in attempts:
                body.append(f'if out=$($K {args} 2>&1); then echo "NOT REFUSED: {what}: $out"; exit 1; fi')
                body.append(f'case "$out" in *[Ff]orbidden*|*denied\\ request*) echo "refused: {what}";; '
                            f'*) echo "failed otherwise: {what}: $out"; exit 1;; esac')
            rc, out, err = job.run("\n".join(body), timeout=120)
            self.assertEqual(rc, 0, out + err)
            self.assertEqual(out.count("refused: "), len(attempts), out)
            rc, _, err = job.cleanup()
            self.assertEqual(rc, 0, err)
            self.assertEqual(cluster_state(), before)
        finally:
            kubectl("delete", "namespace", victim, "--timeout=60s", check=False)
            kubectl("delete", "mutatingwebhookconfiguration", other_hook, check=False)


class Admin(LeaseStageTest):
    def admin(self, profile, *args):
        p = subprocess.run([program("phaedo-admin"), "--profile", profile.path, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=300)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_leases_reap_and_release(self):
        before = cluster_state()
        profile = self.profile()
        rc, out, err = self.admin(profile, "doctor")
        self.assertIn("ok    kubernetes: v1.36", out, out + err)
        a = self.prepared(profile)
        rc, out, err = self.admin(profile, "leases")
        self.assertEqual(rc, 0, err)
        self.assertIn("NODE", out.splitlines()[0])
        row = [l for l in out.splitlines() if a.key in l]
        self.assertEqual(len(row), 1, out)
        self.assertIn("active", row[0])
        self.assertIn("phaedo-" + a.key, row[0])
        node = row[0].split()[0]
        rc, out, err = self.admin(profile, "jobs")  # the lease journal next to the sandbox's
        self.assertEqual(rc, 0, err)
        self.assertIn(f"lease: k8s-lease {node} (created)", out)
        self.assertIn("lease: kubeconfig ", out)

        # A live lease is never reaped.
        rc, out, err = self.admin(profile, "reap")
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(lease(node)["spec"].get("holderIdentity"), a.key)

        # The runner host "dies": the renewer is killed, the lease expires, reap restores the node.
        for pid in renewer_pids(a.key):
            os.kill(pid, signal.SIGKILL)
        time.sleep(12)
        other = self.profile(name="other-host")  # another runner host's reaper
        rc, out, err = self.admin(other, "reap")
        self.assertEqual(rc, 0, out + err)
        self.assertIn(f"reaped node {node} ({a.key})", out)
        self.assertIsNone(lease(node)["spec"].get("holderIdentity"))
        self.assertEqual(cluster_state(), before)
        rc, _, err = a.cleanup()  # the late cleanup of the dead job touches nothing
        self.assertEqual(rc, 0, err)

        # release NODE: the administrator's forced teardown of a running job.
        b = self.prepared(profile)
        node_b = [l for l in self.admin(profile, "leases")[1].splitlines() if b.key in l][0].split()[0]
        rc, out, err = self.admin(profile, "release", node_b)
        self.assertEqual(rc, 0, out + err)
        self.assertIsNone(lease(node_b)["spec"].get("holderIdentity"))
        self.assertEqual(renewer_pids(b.key), [])
        rc, _, err = b.cleanup()
        self.assertEqual(rc, 0, err)
        self.assertEqual(cluster_state(), before)

    def test_a_retried_prepare_gives_the_first_lease_back(self):
        before = cluster_state()
        job = self.prepared(self.profile())
        rc, _, err = job.prepare()  # the runner retries prepare after a system failure
        self.assertEqual(rc, 0, err)
        self.assertIn("releasing the node lease of an earlier attempt", err)
        held = [l for l in items("leases", "-n", CLUSTER["PHAEDO_K8S_LEASE_NAMESPACE"])
                if l["spec"].get("holderIdentity") == job.key]
        self.assertEqual(len(held), 1)
        self.assertEqual(len(renewer_pids(job.key)), 1)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assertEqual(cluster_state(), before)

    def test_wait_timeout_and_cancel_while_waiting(self):
        nothing = self.profile(selector="phaedo.dev/pool=none", wait_timeout=14)
        job = self.new_job(nothing)
        self.assertEqual(job.config()[0], 0)
        t0 = time.monotonic()
        rc, _, err = job.prepare()
        self.assertEqual(rc, 2, err)
        self.assertGreaterEqual(time.monotonic() - t0, 14)
        self.assertIn("phaedo: waiting for a node: no node matches the selector", err)
        self.assertIn("wait_timeout 14 s", err.strip().splitlines()[-1])

        slow = self.profile(selector="phaedo.dev/pool=none", wait_timeout=600, name="slow")
        job = self.new_job(slow)
        self.assertEqual(job.config()[0], 0)
        p = job.start("phaedo-prepare")
        time.sleep(2)
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual(p.returncode, 2, err.decode())
        self.assertIn("cancelled", err.decode())


if __name__ == "__main__":
    unittest.main()
