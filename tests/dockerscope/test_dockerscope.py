"""The scoped Docker API (issue 5) against the real daemon, driven by the real docker CLI and curl.

Works: what a job needs passes through (run, exec with stdin, logs, attach, cp, build, tag, rmi).
Escapes: every attempt to reach beyond the job is refused with a 403 the CLI prints, and the
host is unchanged afterwards. TwoJobs: job A cannot see or touch job B's objects.
"""
import json
import os
import socket
import sys
import tempfile
import time
import unittest

from scope_env import IMAGE, RUN, TEST_LABEL, Proxy, host, require_daemon

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "dockersandbox"))
from docker_relay import DockerRelay  # noqa: E402

MARK = RUN + "-mark"  # in the command of every container an escape attempt would create


def container_state(ref):
    r = host("inspect", "--format", "{{.State.Status}} {{index .Config.Labels \"phaedo.io/job\"}}", ref, check=False)
    return r.stdout.strip() if r.returncode == 0 else "gone"


def host_snapshot(job, foreign):
    label = "label=phaedo.io/job=" + job
    marked = [line for line in host("ps", "-a", "--no-trunc", "--format", "{{.Command}}").stdout.splitlines()
              if MARK in line]
    return {
        "job containers": sorted(host("ps", "-aq", "--filter", label).stdout.split()),
        "job volumes": sorted(host("volume", "ls", "-q", "--filter", label).stdout.split()),
        "job networks": sorted(host("network", "ls", "-q", "--filter", label).stdout.split()),
        "marked containers": marked,
        "foreign": container_state(foreign),
        "base image": host("image", "inspect", "--format", "{{.Id}}", IMAGE, check=False).stdout.strip(),
        "swarm": host("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip(),
        "host volumes named like the job": sorted(
            v for v in host("volume", "ls", "-q").stdout.split() if v.startswith(RUN)),
    }


def start_foreign(name, job_label):
    """A container made directly on the host daemon, labelled as another job's."""
    return host("run", "-d", "--name", name, "--network", "none", "--label", TEST_LABEL + "=" + RUN, "--label",
                "phaedo.io/job=" + job_label, IMAGE, "sleep", "600").stdout.strip()


class ScopeTest(unittest.TestCase):
    extra = ()

    @classmethod
    def setUpClass(cls):
        require_daemon(cls)
        cls.job = RUN + "-" + cls.__name__.lower()
        cls.proxy = Proxy(cls.job, cls.extra)
        cls.foreign_name = RUN + "-foreign-" + cls.__name__.lower()
        # Runs even when the rest of setUpClass fails (tearDownClass would not).
        cls.addClassCleanup(cls.stop_and_clean)
        cls.foreign = start_foreign(cls.foreign_name, RUN + "-someone-else")

    @classmethod
    def stop_and_clean(cls):
        cls.proxy.stop()
        cls.proxy.cleanup()
        host("rm", "-f", cls.foreign_name, check=False)

    def docker(self, *args, **kw):
        return self.proxy.docker(*args, **kw)

    def ok(self, *args, **kw):
        r = self.docker(*args, **kw)
        self.assertEqual(r.returncode, 0, "docker %s: %s" % (" ".join(args), r.stderr))
        return r.stdout


class Works(ScopeTest):
    def test_run_prints_output_and_labels_the_container(self):
        name = RUN + "-run"
        self.assertEqual(self.ok("run", "--name", name, IMAGE, "echo", "hello").strip(), "hello")
        self.assertEqual(container_state(name), "exited " + self.job)
        self.ok("rm", name)

    def test_exec_with_stdin_logs_and_attach(self):
        name = RUN + "-sleeper"
        self.ok("run", "-d", "--name", name, IMAGE, "sh", "-c", "echo started; sleep 600")
        self.assertEqual(self.ok("exec", name, "sh", "-c", "echo in-exec").strip(), "in-exec")
        self.assertEqual(self.ok("exec", "-i", name, "cat", input="through stdin\n").strip(), "through stdin")
        self.assertIn("started", self.ok("logs", name))
        self.assertIn(name, self.ok("ps"))
        self.ok("rm", "-f", name)
        # start -a: a hijacked attach, then the stream ends with the container.
        cid = self.ok("create", IMAGE, "sh", "-c", "echo attached").strip()
        self.assertEqual(self.ok("start", "-a", cid).strip(), "attached")
        self.ok("rm", cid)

    def test_cp_both_ways(self):
        name = RUN + "-cp"
        self.ok("run", "-d", "--name", name, IMAGE, "sleep", "600")
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "in.txt")
            with open(src, "w") as f:
                f.write("copied in\n")
            self.ok("cp", src, name + ":/tmp/in.txt")
            self.ok("cp", name + ":/tmp/in.txt", os.path.join(d, "out.txt"))
            with open(os.path.join(d, "out.txt")) as f:
                self.assertEqual(f.read(), "copied in\n")
        self.ok("rm", "-f", name)

    def test_network_and_volume_of_the_job(self):
        net, vol = RUN + "-net", RUN + "-vol"
        self.ok("network", "create", net)
        self.ok("volume", "create", vol)
        out = self.ok("run", "--rm", "--network", net, "-v", vol + ":/data", IMAGE, "sh", "-c",
                      "echo kept > /data/f && cat /data/f")
        self.assertEqual(out.strip(), "kept")
        # A bind of a new volume name: created labelled before the container.
        self.ok("run", "--rm", "-v", RUN + "-autovol:/x", IMAGE, "true")
        self.assertIn(RUN + "-autovol", self.ok("volume", "ls", "-q"))
        self.assertIn(net, self.ok("network", "ls"))
        self.ok("network", "rm", net)
        self.ok("volume", "rm", vol, RUN + "-autovol")

    def test_build_tag_and_remove_own_images(self):
        with tempfile.TemporaryDirectory() as ctx:
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM %s\nRUN echo %s > /built.txt\nCMD [\"cat\", \"/built.txt\"]\n" % (IMAGE, RUN))
            self.ok("build", "-t", RUN + "-img:1", ctx, timeout=300)
        self.assertEqual(self.ok("run", "--rm", RUN + "-img:1").strip(), RUN)
        self.ok("tag", RUN + "-img:1", RUN + "-img:2")
        record = self.proxy.recorded_images()
        self.assertIn(RUN + "-img:1", record["tags"])
        self.assertIn(RUN + "-img:2", record["tags"])
        self.assertEqual(len(record["images"]), 1)
        listed = self.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
        self.assertIn(RUN + "-img:1", listed)
        self.assertNotIn(IMAGE, listed)  # only the job's images are listed
        self.ok("rmi", RUN + "-img:1", RUN + "-img:2")
        self.assertEqual(self.proxy.recorded_images(), {"images": [], "tags": []})
        self.assertNotEqual(host("image", "inspect", IMAGE, check=False).returncode, 1)

    def test_ps_and_events_show_only_the_job(self):
        self.assertNotIn(self.foreign_name, self.ok("ps", "-a"))
        code, body = self.proxy.curl("GET", "/v1.41/containers/json?all=1")
        self.assertEqual(code, 200)
        self.assertNotIn(self.foreign, body)


class KeepAlive:
    """One client connection to the proxy carrying one request after another (HTTP/1.1)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.rest = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("the proxy closed a keep-alive connection")
        self.rest += data

    def _line(self):
        while b"\r\n" not in self.rest:
            self._fill()
        line, self.rest = self.rest.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.rest) < n:
            self._fill()
        data, self.rest = self.rest[:n], self.rest[n:]
        return data

    def request(self, method, path, body=None):
        """Returns (status, headers, body); the body read by its framing, the connection kept."""
        data = b"" if body is None else body.encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + data)
        status = int(self._line().split()[1])
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        payload = b""
        if method == "HEAD" or status in (204, 304):
            pass
        elif "content-length" in headers:
            payload = self._exact(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                payload += self._exact(size)
                self._exact(2)
        else:
            raise AssertionError(f"{method} {path}: answer without framing on a keep-alive connection: {headers}")
        return status, headers, payload


class KeepAliveExchanges(ScopeTest):
    def test_one_connection_carries_every_kind_of_answer(self):
        # The proxy keeps one upstream connection per client connection while both keep
        # alive: answers with and without bodies, refusals, 404s, streamed and buffered
        # bodies and request bodies must not leave a byte behind for the next request.
        c = KeepAlive(self.proxy.socket)
        self.addCleanup(c.close)
        name = RUN + "-keepalive"
        self.addCleanup(host, "rm", "-f", name, check=False)
        for _ in range(2):
            status, headers, _ = c.request("HEAD", "/_ping")
            self.assertEqual(status, 200)
            self.assertIn("api-version", headers)
        status, _, body = c.request("POST", "/v1.41/containers/create?name=" + name,
                                    json.dumps({"Image": IMAGE, "Cmd": ["sh", "-c", "echo one; echo two"]}))
        self.assertEqual(status, 201, body)
        cid = json.loads(body)["Id"]
        status, _, body = c.request("POST", "/v1.41/containers/create",
                                    json.dumps({"Image": IMAGE, "Cmd": ["echo", MARK],
                                                "HostConfig": {"Privileged": True}}))
        self.assertEqual(status, 403, body)
        self.assertIn(b"phaedo:", body)
        status, _, body = c.request("GET", "/v1.41/containers/%s-nonexistent/json" % RUN)
        self.assertEqual(status, 404, body)
        status, _, body = c.request("POST", "/v1.41/containers/%s/start" % cid)
        self.assertEqual(status, 204, body)
        status, _, body = c.request("POST", "/v1.41/containers/%s/wait" % cid)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["StatusCode"], 0)
        status, _, body = c.request("GET", "/v1.41/containers/%s/logs?stdout=1" % cid)
        self.assertEqual(status, 200, body)
        self.assertIn(b"one", body)
        self.assertIn(b"two", body)
        status, _, body = c.request("GET", "/v1.41/containers/json?all=1")
        self.assertEqual(status, 200, body)
        self.assertEqual([x["Id"] for x in json.loads(body)], [cid])
        for _ in range(20):
            status, _, body = c.request("GET", "/v1.41/containers/%s/json" % cid)
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body)["Id"], cid)
        status, _, body = c.request("DELETE", "/v1.41/containers/%s?force=1" % cid)
        self.assertEqual(status, 204, body)
        status, _, body = c.request("GET", "/v1.41/containers/json?all=1")
        self.assertEqual((status, json.loads(body)), (200, []))


class UpstreamReuse(unittest.TestCase):
    """The proxy's upstream connection, through a relay in front of the real daemon that
    counts connections and can cut them all (as a daemon restart does)."""

    @classmethod
    def setUpClass(cls):
        require_daemon(cls)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="phaedo-relay-")
        self.relay = DockerRelay(os.path.join(self.dir, "relay.sock")).start()
        self.addCleanup(self.relay.stop)
        self.proxy = Proxy(RUN + "-reuse", upstream=self.relay.path)
        self.addCleanup(self.proxy.cleanup)
        self.addCleanup(self.proxy.stop)

    def test_one_upstream_connection_per_client_connection_and_a_new_one_after_a_cut(self):
        c = KeepAlive(self.proxy.socket)
        self.addCleanup(c.close)
        before = self.relay.accepted
        for path in ("/_ping", "/v1.41/containers/json", "/_ping", "/v1.41/containers/json"):
            status, _, body = c.request("GET", path)
            self.assertEqual(status, 200, body)
        self.assertEqual(self.relay.accepted - before, 1, "four requests of one client connection: one upstream")
        self.relay.cut_all()
        time.sleep(0.2)
        for path in ("/v1.41/containers/json", "/_ping"):
            status, _, body = c.request("GET", path)
            self.assertEqual(status, 200, f"after the daemon closed the connection: {body!r}")
        self.assertEqual(self.relay.accepted - before, 2, "a closed upstream connection is replaced, once")
        other = KeepAlive(self.proxy.socket)
        self.addCleanup(other.close)
        self.assertEqual(other.request("GET", "/_ping")[0], 200)
        self.assertEqual(self.relay.accepted - before, 3, "another client connection gets its own")


class Escapes(ScopeTest):
    # The job's limits: larger asks are refused, absent ones filled in.
    extra = ("--memory", str(256 << 20), "--pids", "256")

    def attempt(self, rule, *args, input=None):
        before = host_snapshot(self.job, self.foreign)
        r = self.docker(*args, input=input)
        self.assertNotEqual(r.returncode, 0, "docker %s was not refused: %s" % (" ".join(args), r.stdout))
        self.assertIn("phaedo: %s refused" % rule, r.stderr, "docker %s" % " ".join(args))
        self.assertEqual(host_snapshot(self.job, self.foreign), before, "host changed by: docker %s" % " ".join(args))

    def attempt_api(self, rule, method, path, body=None):
        before = host_snapshot(self.job, self.foreign)
        code, text = self.proxy.curl(method, path, body)
        self.assertEqual(code, 403, "%s %s: %s" % (method, path, text))
        self.assertIn("phaedo: %s refused" % rule, json.loads(text)["message"])
        self.assertEqual(host_snapshot(self.job, self.foreign), before, "host changed by %s %s" % (method, path))

    def run_with(self, rule, *flags):
        self.attempt(rule, "run", "--rm", *flags, IMAGE, "echo", MARK)

    def test_container_create_escapes(self):
        cases = [
            ("privileged", ["--privileged"]),
            ("bind mount", ["-v", "/:/host"]),
            ("bind mount", ["--mount", "type=bind,source=/etc,target=/host-etc"]),
            ("PidMode", ["--pid", "host"]),
            ("network mode", ["--network", "host"]),
            ("IpcMode", ["--ipc", "host"]),
            ("UTSMode", ["--uts", "host"]),
            ("UsernsMode", ["--userns", "host"]),
            ("CgroupnsMode", ["--cgroupns", "host"]),
            ("device", ["--device", "/dev/kmsg"]),
            ("device request", ["--gpus", "all"]),
            ("device cgroup rule", ["--device-cgroup-rule", "a *:* rwm"]),
            ("capability", ["--cap-add", "SYS_ADMIN"]),
            ("capability", ["--cap-add", "ALL"]),
            ("security option", ["--security-opt", "seccomp=unconfined"]),
            ("security option", ["--security-opt", "apparmor=unconfined"]),
            ("security option", ["--security-opt", "label=disable"]),
            ("system paths", ["--security-opt", "systempaths=unconfined"]),
            ("sysctl", ["--sysctl", "net.ipv4.ip_forward=1"]),
            ("cgroup parent", ["--cgroup-parent", "/escape"]),
            ("runtime", ["--runtime", "io.containerd.runc.v2"]),
            ("port publishing", ["-p", "18080:80"]),
            ("port publishing", ["-P", "--expose", "80"]),
            ("OOM kill disable", ["--oom-kill-disable"]),
            ("OOM score", ["--oom-score-adj", "-1000"]),
            ("log driver", ["--log-driver", "syslog", "--log-opt", "syslog-address=udp://127.0.0.1:514"]),
            ("memory limit", ["--memory", "1g"]),
            ("pids limit", ["--pids-limit", "100000"]),
            ("label", ["--label", "phaedo.io/job=" + RUN + "-someone-else"]),
            ("ownership", ["--pid", "container:" + self.foreign_name]),
            ("ownership", ["--network", "container:" + self.foreign_name]),
            ("ownership", ["--volumes-from", self.foreign_name]),
            ("name", ["--name", "phaedo-r1-j1"]),
        ]
        for rule, flags in cases:
            with self.subTest(flags=" ".join(flags)):
                self.run_with(rule, *flags)

    def test_limits_are_added_when_absent(self):
        name = RUN + "-limited"
        self.ok("run", "--name", name, IMAGE, "true")
        r = host("inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", name)
        self.assertEqual(r.stdout.split(), [str(256 << 20), "256"])
        self.ok("rm", name)

    def test_foreign_container_is_untouchable(self):
        f = self.foreign_name
        with tempfile.TemporaryDirectory() as d:
            cases = [
                ["inspect", f],
                ["exec", f, "echo", MARK],
                ["logs", f],
                ["cp", f + ":/etc/passwd", d],
                ["commit", f, RUN + "-stolen:1"],
                ["stop", f],
                ["kill", f],
                ["rm", "-f", f],
                ["rename", f, RUN + "-renamed"],
                ["pause", f],
                ["top", f],
                ["update", "--memory", "64m", f],
                ["export", f],
                ["wait", f],
                ["restart", f],
                ["attach", f],
            ]
            for args in cases:
                with self.subTest(args=" ".join(args)):
                    self.attempt("ownership", *args)
            # ...also by id prefix, which the daemon would resolve.
            self.attempt("ownership", "inspect", self.foreign[:12])

    def test_daemon_wide_and_foreign_objects(self):
        net = RUN + "-esc-net"
        self.ok("network", "create", net)
        self.attempt("ownership", "network", "connect", net, self.foreign_name)
        self.attempt("volume driver options", "volume", "create", "--opt", "type=none", "--opt", "o=bind",
                     "--opt", "device=/", RUN + "-hostroot")
        self.attempt("network option", "network", "create", "-o", "com.docker.network.bridge.name=docker0",
                     RUN + "-bridge")
        self.attempt("network driver", "network", "create", "-d", "macvlan", RUN + "-macvlan")
        self.attempt("swarm", "swarm", "init")
        self.attempt("plugin", "plugin", "install", "--grant-all-permissions", "vieux/sshfs")
        self.attempt("swarm secret", "secret", "create", RUN + "-secret", "-", input="s3cret")
        self.attempt("prune", "system", "prune", "-f")
        self.attempt("prune", "image", "prune", "-a", "-f")
        self.attempt("daemon-wide endpoint", "system", "df")
        self.attempt("image removal", "rmi", IMAGE)
        self.attempt("tag", "tag", IMAGE, IMAGE)  # re-pointing another job's (or the shared) tag
        self.attempt("image load", "load", input="")
        with tempfile.TemporaryDirectory() as ctx:
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM %s\nRUN echo %s\n" % (IMAGE, MARK))
            self.attempt("build network", "build", "--network", "host", ctx)
            self.attempt("cgroup parent", "build", "--cgroup-parent", "/escape", ctx)
        self.ok("network", "rm", net)

    def test_raw_api_tricks(self):
        # Go decodes field names case-insensitively: "privileged" would be Privileged.
        code, text = self.proxy.curl("POST", "/v1.41/containers/create",
                                     json.dumps({"Image": IMAGE, "Cmd": ["echo", MARK],
                                                 "HostConfig": {"privileged": True}}))
        self.assertEqual(code, 400, text)
        self.assertIn("must be spelled Privileged", text)
        code, text = self.proxy.curl("POST", "/v1.41/containers/create",
                                     '{"Image":"%s","HostConfig":{"Privileged":false,"PRIVILEGED":true}}' % IMAGE)
        self.assertEqual(code, 400, text)
        self.attempt_api("system paths", "POST", "/v1.41/containers/create",
                         json.dumps({"Image": IMAGE, "Cmd": ["echo", MARK], "HostConfig": {"MaskedPaths": []}}))
        box = self.ok("run", "-d", "--name", RUN + "-execpriv", IMAGE, "sleep", "600").strip()
        self.attempt_api("privileged", "POST", "/v1.41/containers/%s/exec" % box,
                         json.dumps({"Cmd": ["id"], "Privileged": True}))
        self.attempt_api("remote build context", "POST", "/v1.41/build?remote=https://example.com/ctx.tar")
        self.attempt_api("BuildKit", "POST", "/v1.41/build?version=2")
        # Paths the daemon could read differently from the gate are refused outright.
        for path in ("/v1.41/containers/x/../../info", "/v1.41/containers/x%2F..%2F..%2Finfo/json",
                     "/v1.41//containers/json"):
            code, text = self.proxy.curl("GET", path)
            self.assertEqual(code, 400, path + ": " + text)
        self.ok("rm", "-f", RUN + "-execpriv")


class TwoJobs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_daemon(cls)
        cls.a = Proxy(RUN + "-job-a")
        cls.b = Proxy(RUN + "-job-b")

    @classmethod
    def tearDownClass(cls):
        for p in (cls.a, cls.b):
            p.stop()
            p.cleanup()

    def test_a_cannot_see_or_touch_b(self):
        b_name = RUN + "-b-box"
        r = self.b.docker("run", "-d", "--name", b_name, IMAGE, "sleep", "600")
        self.assertEqual(r.returncode, 0, r.stderr)
        with tempfile.TemporaryDirectory() as ctx:
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM %s\nLABEL built-by=b\n" % IMAGE)
            r = self.b.docker("build", "-t", RUN + "-b-img:1", ctx, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(b_name, self.b.docker("ps").stdout)
        self.assertNotIn(b_name, self.a.docker("ps", "-a").stdout)
        self.assertNotIn(RUN + "-b-img", self.a.docker("images").stdout)
        with tempfile.TemporaryDirectory() as d:
            for args in (["inspect", b_name], ["exec", b_name, "true"], ["cp", b_name + ":/etc/passwd", d],
                         ["commit", b_name, RUN + "-a-stolen:1"], ["stop", b_name], ["rm", "-f", b_name]):
                with self.subTest(args=" ".join(args)):
                    r = self.a.docker(*args)
                    self.assertNotEqual(r.returncode, 0)
                    self.assertIn("phaedo: ownership refused", r.stderr)
        r = self.a.docker("rmi", RUN + "-b-img:1")
        self.assertIn("phaedo: image removal refused", r.stderr)
        self.assertEqual(container_state(b_name), "running " + RUN + "-job-b")
        self.assertEqual(host("image", "inspect", RUN + "-b-img:1", check=False).returncode, 0)


if __name__ == "__main__":
    unittest.main()
