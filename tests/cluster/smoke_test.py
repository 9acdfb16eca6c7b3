#!/usr/bin/env python3
"""Smoke test of the real test cluster (tests/cluster/up.sh): control plane, kwok GPU nodes.

Usage: python3 tests/cluster/smoke_test.py [-v]

Environment:
  PHAEDO_CLUSTER_ENV  env file of a running cluster (from up.sh): use it, start nothing.
  PHAEDO_K8S_BIN      directory with the peer binaries (else tests/peers/kubernetes/build.sh).
  CI=true             a missing peer (binaries not built and not buildable) fails the
                      tests; otherwise they are skipped. Under CI the peers are built when
                      missing (tens of minutes on 2 cores); elsewhere run build.sh first.

Standard library only.
"""

import json
import os
import ssl
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD_SH = os.path.join(REPO, "tests", "peers", "kubernetes", "build.sh")
UP_SH = os.path.join(HERE, "up.sh")
DOWN_SH = os.path.join(HERE, "down.sh")
CI = os.environ.get("CI", "").lower() == "true"


def parse_env_file(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


def missing_peer(reason):
    """Fail under CI, skip elsewhere."""
    if CI:
        raise AssertionError("CI=true and the Kubernetes test peer is unavailable: " + reason)
    raise unittest.SkipTest(reason)


def find_binaries():
    if os.environ.get("PHAEDO_K8S_BIN"):
        return os.environ["PHAEDO_K8S_BIN"]
    if CI:
        proc = subprocess.run([BUILD_SH], stdout=subprocess.PIPE, check=False)
        if proc.returncode != 0:
            missing_peer("tests/peers/kubernetes/build.sh failed (exit %d)" % proc.returncode)
        return proc.stdout.decode().strip().splitlines()[-1]
    try:
        proc = subprocess.run([BUILD_SH, "--check"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=False)
    except OSError as e:
        missing_peer("cannot run %s: %s" % (BUILD_SH, e))
    if proc.returncode != 0:
        missing_peer("Kubernetes peers not built; run tests/peers/kubernetes/build.sh "
                     "(or set PHAEDO_K8S_BIN / PHAEDO_CLUSTER_ENV)")
    return proc.stdout.decode().strip().splitlines()[-1]


class Cluster:
    """The API of a running cluster, reached with urllib and the cluster's CA."""

    def __init__(self, env):
        self.env = env
        self.url = env["PHAEDO_K8S_API_URL"]
        self.ctx = ssl.create_default_context(cafile=env["PHAEDO_K8S_CA"])
        self.admin = env["PHAEDO_K8S_ADMIN_TOKEN"]
        self.driver = env["PHAEDO_K8S_DRIVER_TOKEN"]

    def request(self, method, path, body=None, token=None,
                content_type="application/json"):
        """Returns (status, decoded JSON body or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + (token or self.admin))
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def ok(self, method, path, body=None, token=None, expect=(200, 201)):
        status, obj = self.request(method, path, body, token)
        if status not in expect:
            raise AssertionError("%s %s -> %d: %s" % (method, path, status, obj))
        return obj

    def wait(self, what, predicate, timeout=60.0, interval=0.2):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))

    def new_namespace(self, prefix):
        name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
        self.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": name}})
        return name


class ClusterSmokeTest(unittest.TestCase):
    cluster = None
    env_file = None
    started = False

    @classmethod
    def setUpClass(cls):
        given = os.environ.get("PHAEDO_CLUSTER_ENV")
        if given:
            cls.env_file = given
        else:
            bin_dir = find_binaries()
            env = dict(os.environ, PHAEDO_K8S_BIN=bin_dir)
            start = time.monotonic()
            proc = subprocess.run([UP_SH], stdout=subprocess.PIPE, env=env, check=False)
            if proc.returncode != 0:
                raise AssertionError("up.sh failed (exit %d)" % proc.returncode)
            cls.env_file = proc.stdout.decode().strip().splitlines()[-1]
            cls.started = True
            sys.stderr.write("cluster ready in %.1fs (%s)\n" % (time.monotonic() - start, cls.env_file))
        cls.cluster = Cluster(parse_env_file(cls.env_file))

    @classmethod
    def tearDownClass(cls):
        if cls.started and os.environ.get("PHAEDO_CLUSTER_KEEP") != "1":
            subprocess.run([DOWN_SH, os.path.dirname(cls.env_file)], check=False)

    # --- nodes --------------------------------------------------------------------------
    def test_gpu_nodes_ready_with_gpu_allocatable(self):
        c = self.cluster
        names = set(c.env["PHAEDO_K8S_GPU_NODES"].split(","))
        resource = c.env["PHAEDO_K8S_GPU_RESOURCE"]
        nodes = c.ok("GET", "/api/v1/nodes?labelSelector=nvidia.com%2Fgpu.present%3Dtrue")["items"]
        self.assertEqual({n["metadata"]["name"] for n in nodes}, names)
        for n in nodes:
            ready = [x for x in n["status"].get("conditions", []) if x["type"] == "Ready"]
            self.assertEqual([x["status"] for x in ready], ["True"], n["metadata"]["name"])
            self.assertEqual(n["status"]["allocatable"].get(resource), "8")
            self.assertEqual(n["status"]["capacity"].get(resource), "8")
            keys = [t["key"] for t in n["spec"].get("taints", [])]
            self.assertNotIn("node.kubernetes.io/not-ready", keys)
            self.assertIn("nvidia.com/gpu", keys)
        # kwok renews node Leases like a kubelet.
        for name in names:
            c.ok("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + name)

    # --- controller-manager -------------------------------------------------------------
    def test_namespace_deletion_completes(self):
        c = self.cluster
        ns = c.new_namespace("smoke-del")
        c.ok("POST", "/api/v1/namespaces/%s/configmaps" % ns,
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}})
        # The serviceaccount controller works too.
        c.wait("default ServiceAccount in " + ns, lambda: c.request(
            "GET", "/api/v1/namespaces/%s/serviceaccounts/default" % ns)[0] == 200)
        c.ok("DELETE", "/api/v1/namespaces/" + ns, expect=(200, 202))
        c.wait("namespace %s gone" % ns,
               lambda: c.request("GET", "/api/v1/namespaces/" + ns)[0] == 404, timeout=90)

    # --- scheduler + kwok stage ---------------------------------------------------------
    def _gpu_pod(self, ns, name, outcome, annotations=None):
        c = self.cluster
        key, value = c.env["PHAEDO_K8S_GPU_TAINT"].split(":")[0].split("=")
        sel_key, sel_value = c.env["PHAEDO_K8S_GPU_NODE_SELECTOR"].split("=")
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {c.env["PHAEDO_K8S_COMPLETE_LABEL"]: outcome},
                         "annotations": annotations or {}},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "nodeSelector": {sel_key: sel_value},
                "tolerations": [{"key": key, "operator": "Equal", "value": value,
                                 "effect": "NoSchedule"}],
                "containers": [{"name": "tf", "image": "tensorflow/tensorflow:latest-gpu",
                                "resources": {"limits": {c.env["PHAEDO_K8S_GPU_RESOURCE"]: "1"}}}],
            },
        }
        c.wait("default ServiceAccount in " + ns, lambda: c.request(
            "GET", "/api/v1/namespaces/%s/serviceaccounts/default" % ns)[0] == 200)
        c.ok("POST", "/api/v1/namespaces/%s/pods" % ns, pod)

        def finished():
            obj = c.ok("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, name))
            return obj if obj["status"].get("phase") in ("Succeeded", "Failed") else None
        return c.wait("pod %s/%s to finish" % (ns, name), finished, timeout=60)

    def test_gpu_pod_scheduled_and_succeeds(self):
        c = self.cluster
        ns = c.new_namespace("smoke-gpu")
        try:
            pod = self._gpu_pod(ns, "gpu-job", "Succeeded")
            self.assertEqual(pod["status"]["phase"], "Succeeded")
            self.assertIn(pod["spec"]["nodeName"], c.env["PHAEDO_K8S_GPU_NODES"].split(","))
            scheduled = [x for x in pod["status"]["conditions"] if x["type"] == "PodScheduled"]
            self.assertEqual([x["status"] for x in scheduled], ["True"])
            events = c.ok("GET", "/api/v1/namespaces/%s/events?fieldSelector=reason%%3DScheduled" % ns)
            self.assertTrue(events["items"], "no Scheduled event from kube-scheduler")
            term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
            self.assertEqual(term["exitCode"], 0)
        finally:
            c.request("DELETE", "/api/v1/namespaces/" + ns)

    def test_gpu_pod_fails_with_exit_code(self):
        c = self.cluster
        ns = c.new_namespace("smoke-fail")
        try:
            pod = self._gpu_pod(ns, "gpu-job", "Failed", {"phaedo.dev/kwok-exit-code": "3",
                                                         "phaedo.dev/kwok-run-duration": "200ms"})
            self.assertEqual(pod["status"]["phase"], "Failed")
            self.assertEqual(pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 3)
        finally:
            c.request("DELETE", "/api/v1/namespaces/" + ns)

    def test_pod_without_toleration_stays_pending(self):
        c = self.cluster
        ns = c.new_namespace("smoke-pend")
        try:
            c.wait("default ServiceAccount in " + ns, lambda: c.request(
                "GET", "/api/v1/namespaces/%s/serviceaccounts/default" % ns)[0] == 200)
            c.ok("POST", "/api/v1/namespaces/%s/pods" % ns, {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": [{"name": "c", "image": "busybox",
                                         "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}})

            def unschedulable():
                pod = c.ok("GET", "/api/v1/namespaces/%s/pods/p" % ns)
                cond = [x for x in pod["status"].get("conditions", []) if x["type"] == "PodScheduled"]
                return cond and cond[0]["status"] == "False" and cond[0].get("reason") == "Unschedulable"
            c.wait("pod p Unschedulable", unschedulable, timeout=30)
        finally:
            c.request("DELETE", "/api/v1/namespaces/" + ns)

    # --- Lease --------------------------------------------------------------------------
    def test_lease_create_conflicts_with_409(self):
        c = self.cluster
        ns = c.env["PHAEDO_K8S_LEASE_NAMESPACE"]
        name = "smoke-" + uuid.uuid4().hex[:8]
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": name},
                 "spec": {"holderIdentity": "job-1", "leaseDurationSeconds": 30,
                          "acquireTime": "2026-01-02T03:04:05.123456Z",
                          "renewTime": "2026-01-02T03:04:05.123456Z"}}
        path = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % ns
        status, obj = c.request("POST", path, lease, token=c.driver)
        self.assertEqual(status, 201, obj)
        self.assertEqual(obj["spec"]["renewTime"], "2026-01-02T03:04:05.123456Z")
        lease["spec"]["holderIdentity"] = "job-2"
        status, obj = c.request("POST", path, lease, token=c.driver)
        self.assertEqual(status, 409, obj)
        self.assertEqual(obj["reason"], "AlreadyExists")
        # A stale resourceVersion on update is a Conflict, not AlreadyExists.
        current = c.ok("GET", path + "/" + name, token=c.driver)
        stale = json.loads(json.dumps(current))
        current["spec"]["holderIdentity"] = "job-1b"
        c.ok("PUT", path + "/" + name, current, token=c.driver)
        stale["spec"]["holderIdentity"] = "job-2"
        status, obj = c.request("PUT", path + "/" + name, stale, token=c.driver)
        self.assertEqual(status, 409, obj)
        self.assertEqual(obj["reason"], "Conflict")
        c.ok("DELETE", path + "/" + name, token=c.driver)

    def test_driver_is_least_privilege(self):
        c = self.cluster
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "x"}, "spec": {"holderIdentity": "x"}}
        status, _ = c.request("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                              lease, token=c.driver)
        self.assertEqual(status, 403)
        status, _ = c.request("GET", "/api/v1/secrets", token=c.driver)
        self.assertEqual(status, 403)
        status, _ = c.request("GET", "/api/v1/nodes", token=c.driver)
        self.assertEqual(status, 200)

    def test_driver_sets_up_a_scoped_job_identity(self):
        """The driver's RBAC suffices for the per-job setup of issue 6, and the job's
        ServiceAccount (admin inside its namespace only) is refused outside it."""
        c = self.cluster
        ns = "smoke-job-" + uuid.uuid4().hex[:8]
        node = c.env["PHAEDO_K8S_GPU_NODES"].split(",")[0]
        try:
            c.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": ns}}, token=c.driver)
            c.ok("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns,
                 {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "job"}},
                 token=c.driver)
            c.ok("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % ns,
                 {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                  "metadata": {"name": "job-admin"},
                  "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": "admin"},
                  "subjects": [{"kind": "ServiceAccount", "name": "job", "namespace": ns}]},
                 token=c.driver)
            # Node label via merge patch guarded by resourceVersion (read-modify-write).
            cur = c.ok("GET", "/api/v1/nodes/" + node, token=c.driver)
            status, obj = c.request(
                "PATCH", "/api/v1/nodes/" + node,
                {"metadata": {"resourceVersion": cur["metadata"]["resourceVersion"],
                              "labels": {"phaedo.dev/smoke": ns}}},
                token=c.driver, content_type="application/merge-patch+json")
            self.assertEqual(status, 200, obj)
            status, obj = c.request(
                "PATCH", "/api/v1/nodes/" + node,
                {"metadata": {"resourceVersion": cur["metadata"]["resourceVersion"],
                              "labels": {"phaedo.dev/smoke": "stale"}}},
                token=c.driver, content_type="application/merge-patch+json")
            self.assertEqual(status, 409, obj)
            tok = c.ok("POST", "/api/v1/namespaces/%s/serviceaccounts/job/token" % ns,
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"expirationSeconds": 600}}, token=c.driver)["status"]["token"]

            # admin inside the namespace (aggregated by clusterrole-aggregation): ok.
            def can_create_configmap():
                return c.request("POST", "/api/v1/namespaces/%s/configmaps" % ns,
                                 {"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": "cm-" + uuid.uuid4().hex[:6]}},
                                 token=tok)[0] == 201
            c.wait("job SA allowed in its namespace", can_create_configmap, timeout=30)
            # Outside it: refused.
            self.assertEqual(c.request("DELETE", "/api/v1/namespaces/default", token=tok)[0], 403)
            self.assertEqual(c.request("PATCH", "/api/v1/nodes/" + node, {"metadata": {"labels": {"x": "y"}}},
                                       token=tok, content_type="application/merge-patch+json")[0], 403)
            self.assertEqual(c.request(
                "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": "escalate-" + ns},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": "cluster-admin"},
                 "subjects": [{"kind": "ServiceAccount", "name": "job", "namespace": ns}]},
                token=tok)[0], 403)
        finally:
            c.request("PATCH", "/api/v1/nodes/" + node, {"metadata": {"labels": {"phaedo.dev/smoke": None}}},
                      content_type="application/merge-patch+json")
            c.request("DELETE", "/api/v1/namespaces/" + ns)

    # --- TokenRequest -------------------------------------------------------------------
    def test_token_request(self):
        c = self.cluster
        ns = c.new_namespace("smoke-tok")
        try:
            c.ok("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns,
                 {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "job"}},
                 token=c.driver)
            tr = c.ok("POST", "/api/v1/namespaces/%s/serviceaccounts/job/token" % ns,
                      {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                       "spec": {"expirationSeconds": 600}}, token=c.driver)
            token = tr["status"]["token"]
            self.assertTrue(tr["status"]["expirationTimestamp"])
            review = c.ok("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                          {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                          token=token)
            self.assertEqual(review["status"]["userInfo"]["username"],
                             "system:serviceaccount:%s:job" % ns)
            # Below the 10-minute minimum is refused.
            status, _ = c.request("POST", "/api/v1/namespaces/%s/serviceaccounts/job/token" % ns,
                                  {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                   "spec": {"expirationSeconds": 60}}, token=c.driver)
            self.assertEqual(status, 422)
        finally:
            c.request("DELETE", "/api/v1/namespaces/" + ns)


if __name__ == "__main__":
    unittest.main()
