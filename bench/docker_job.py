#!/usr/bin/env python3
"""Benchmark: one docker-sandbox job through the installed phaedo-* programs
against the floor of the same Docker Engine API calls made directly.

One *run* of the driver is what gitlab-runner does for a job (called exactly as
tests/protocol/runner_emulator.py calls the programs): phaedo-config,
phaedo-prepare, N sub-stages of phaedo-run with a trivial (`true`) script, and
phaedo-cleanup. One run of the *floor* is this script talking to the Engine API
over the unix socket itself, with one keep-alive connection, making the calls the
driver makes for the job's objects and work:

  prepare  GET /_ping, GET /version (once per job), GET /images/<image>/json,
           POST /networks/create, POST /volumes/create (builds, then cache),
           POST /containers/create, POST /containers/<c>/start
  stage    GET /containers/<c>/json (the driver checks the container runs),
           PUT /containers/<c>/archive (the script, as the driver's tar),
           POST /containers/<c>/exec, POST /exec/<e>/start (stream, demuxed),
           GET /exec/<e>/json until it has an exit code
  cleanup  DELETE /containers/<c>?force=1&v=1, DELETE /networks/<n>,
           DELETE /volumes/<v>?force=1

The container body, the exec command and the archive layout are not copied from
the driver's source: a calibration job (not counted) runs through the driver
first, and the floor reuses what the daemon reports for it (container Config and
HostConfig, the exec's ProcessConfig), so the two do the same work in the
container. What the floor leaves out is exactly what the driver's shape adds:
one process per stage (start, profile and payload parsing, API negotiation on a
new connection), the write-ahead journal, the leftover sweep before prepare and
the label backstop after cleanup, and the driver's exec-inspect polling pace.

Driver and floor runs are interleaved (the order alternates each round) so drift
of the daemon affects both. Everything this script creates carries the label
phaedo.io/runner=<bench id> and is removed at the end; nothing else is touched.

Usage: bench/docker_job.py [--runs 15] [--stages 10] [--bin DIR] [--json FILE]
                           [--breakdown] [--markdown]
"""

import argparse
import http.client
import io
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "protocol"))

import runner_emulator  # noqa: E402
from runner_emulator import Job, job_payload  # noqa: E402

IMAGE = "phaedo-test/busybox:1"
SOCKET = "/var/run/docker.sock"
BENCH_ID = f"bench{os.getpid()}x{int(time.time()) % 100000}"
RUNNER_LABEL = "phaedo.io/runner"
JOB_LABEL = "phaedo.io/job"
EXPIRES_LABEL = "phaedo.io/expires"
CACHE_VOLUME = f"phaedo-{BENCH_ID}-cache"

# The runner's sub-stages of a job, in order (custom-executor protocol); cycled.
SUB_STAGES = ["prepare_script", "get_sources", "restore_cache", "download_artifacts", "step_script",
              "after_script", "archive_cache", "upload_artifacts_on_success", "cleanup_file_variables",
              "build_script"]

now = time.perf_counter


# --------------------------------------------------------------------------- Engine API client

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class EngineError(RuntimeError):
    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path}: HTTP {status}: {body[:300]!r}")
        self.status = status


class Engine:
    """A minimal Engine API client: one keep-alive connection, versioned paths."""

    def __init__(self, sock=SOCKET):
        self.sock = sock
        self.conn = UnixHTTPConnection(sock)
        self.prefix = ""
        self.requests = 0

    def close(self):
        self.conn.close()

    def negotiate(self):
        self.raw("GET", "/_ping", versioned=False)
        info = self.call("GET", "/version", versioned=False)
        major, minor = (int(x) for x in info["ApiVersion"].split("."))
        major, minor = min((major, minor), (1, 45))
        self.prefix = f"/v{major}.{minor}"
        return info

    def raw(self, method, path, body=None, headers=None, versioned=True, ok=(200, 201, 204, 304)):
        url = (self.prefix if versioned else "") + path
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        self.requests += 1
        for attempt in (0, 1):
            try:
                self.conn.request(method, url, body=body, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()  # the daemon closed an idle keep-alive connection
                if attempt:
                    raise
        if resp.status not in ok:
            raise EngineError(method, url, resp.status, data)
        return resp.status, data

    def call(self, method, path, body=None, headers=None, versioned=True, ok=(200, 201, 204, 304)):
        _, data = self.raw(method, path, body, headers, versioned, ok)
        return json.loads(data) if data.strip() else None

    def exec_start(self, exec_id):
        """POST /exec/<id>/start on its own connection (the daemon hijacks it and
        closes it at the end of the stream); returns (stdout, stderr) demuxed."""
        conn = UnixHTTPConnection(self.sock, timeout=600)
        self.requests += 1
        try:
            conn.request("POST", f"{self.prefix}/exec/{exec_id}/start",
                         body=json.dumps({"Detach": False, "Tty": False}).encode(),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise EngineError("POST", f"/exec/{exec_id}/start", resp.status, data)
        finally:
            conn.close()
        out, err, i = bytearray(), bytearray(), 0
        while i + 8 <= len(data):
            kind, size = data[i], int.from_bytes(data[i + 4:i + 8], "big")
            (err if kind == 2 else out).extend(data[i + 8:i + 8 + size])
            i += 8 + size
        return bytes(out), bytes(err)

    def list_names(self, kind, label):
        filters = json.dumps({"label": [label]})
        q = urllib.parse.quote(filters)
        if kind == "container":
            return [c["Names"][0].lstrip("/") if c.get("Names") else c["Id"]
                    for c in self.call("GET", f"/containers/json?all=1&filters={q}")]
        if kind == "network":
            return [n["Name"] for n in self.call("GET", f"/networks?filters={q}")]
        return [v["Name"] for v in (self.call("GET", f"/volumes?filters={q}").get("Volumes") or [])]

    def remove(self, kind, name):
        ok = (200, 204, 404)
        if kind == "container":
            self.raw("DELETE", f"/containers/{name}?force=1&v=1", ok=ok)
        elif kind == "network":
            self.raw("DELETE", f"/networks/{name}", ok=ok)
        else:
            self.raw("DELETE", f"/volumes/{name}?force=1", ok=ok)


def ensure_image(engine):
    """Imports phaedo-test/busybox:1 from the host's busybox-static when missing
    (../shared/docs/test-peers.md 1.2; the same image tests/docker builds)."""
    _, data = engine.raw("GET", f"/images/{IMAGE}/json", ok=(200, 404))
    if json.loads(data).get("Id"):
        return False
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        raise RuntimeError(f"{IMAGE} is missing and /bin/busybox is not installed (apt-get install busybox-static)")
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777)):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, mode
            tar.addfile(ti)
        tar.add(busybox, "bin/busybox")
        for a in applets:
            if a != "busybox":
                ti = tarfile.TarInfo(f"bin/{a}")
                ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(ti)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\n")):
            raw = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(raw)
            tar.addfile(ti, io.BytesIO(raw))
    repo, tag = IMAGE.rsplit(":", 1)
    changes = "&".join("changes=" + urllib.parse.quote(c) for c in
                       ('CMD ["/bin/sh"]', "ENV PATH=/bin", "LABEL phaedo.io/test-fixture=busybox"))
    engine.raw("POST", f"/images/create?fromSrc=-&repo={repo}&tag={tag}&{changes}", body=buf.getvalue(),
               headers={"Content-Type": "application/x-tar"})
    return True


# --------------------------------------------------------------------------- the driver side

class BenchProfile(runner_emulator.Profile):
    """A docker profile like runner-config/nimbus.toml, sized for the busybox image
    and this machine (shell sh, 1 cpu), with its state in a temp dir."""

    def __init__(self, root, sock):
        self.root = root
        self.cgroup_root = None
        self.path = os.path.join(root, "profile.toml")
        with open(self.path, "w") as f:
            f.write(f'name = "bench"\nsandbox = "docker"\nlease = "none"\nshell = "sh"\n'
                    f'state_dir = "{root}/state"\nlog_file = "{root}/state/admin.log"\nkill_grace_ms = 3000\n'
                    f'[docker]\nsocket = "{sock}"\ndefault_image = "{IMAGE}"\nallowed_images = ["phaedo-test/*"]\n'
                    f'pull_policy = "if-not-present"\ncpus = 1\nmemory = "512m"\npids_limit = 4096\n'
                    f'cap_add = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID"]\n'
                    f'read_only_rootfs = false\nbuilds_dir = "/builds"\ncache_dir = "/cache"\n'
                    f'cache_volume = "{CACHE_VOLUME}"\n')


class Failed(RuntimeError):
    pass


def check(what, result):
    rc, out, err = result
    if rc != 0:
        raise Failed(f"{what}: exit {rc}\n{err}")
    return out


class DriverJob:
    next_id = 1

    def __init__(self, profile):
        DriverJob.next_id += 1
        self.job = Job(profile, job_payload(DriverJob.next_id, runner_id=BENCH_ID))
        self.key = self.job.key

    def write_stage_script(self):
        return self.job.write_script("true", shell="sh")

    def stage(self, script, name):
        return check(f"phaedo-run {name}", self.job.call("phaedo-run", script, name))


def calibrate(profile, sock):
    """A driver job (not counted) whose container and exec tell the floor what to
    send: the container's Config/HostConfig from the daemon, and the exact argv of
    the driver's exec wrapper (read by the stage script from /proc/$PPID/cmdline)."""
    dj = DriverJob(profile)
    try:
        check("phaedo-config", dj.job.config())
        check("phaedo-prepare", dj.job.prepare())
        script = dj.job.write_script("cat /proc/$PPID/cmdline", shell="sh")
        argv = dj.stage(script, "step_script").split("\0")
        if argv and argv[-1] == "":
            argv.pop()
        e = Engine(sock)
        e.negotiate()
        info = e.call("GET", f"/containers/phaedo-{dj.key}/json")
        e.close()
        check("phaedo-cleanup", dj.job.cleanup())
        return FloorSpec(info, argv, "/builds"), dj.key
    finally:
        dj.job.remove()


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def driver_run(profile, stages):
    """One job through the installed programs; per-phase wall times in seconds,
    and the CPU time (user + system) the stage programs used ("cpu_*")."""
    dj = DriverJob(profile)
    t = {"stages": [], "cpu_stages": []}
    try:
        c, t0 = child_cpu(), now()
        check("phaedo-config", dj.job.config())
        c1, t1 = child_cpu(), now()
        check("phaedo-prepare", dj.job.prepare())
        c2, t2 = child_cpu(), now()
        t["config"], t["prepare"] = t1 - t0, t2 - t1
        t["cpu_config"], t["cpu_prepare"] = c1 - c, c2 - c1
        for i in range(stages):
            script = dj.write_stage_script()  # the runner writes it before calling run
            c0, s0 = child_cpu(), now()
            dj.stage(script, SUB_STAGES[i % len(SUB_STAGES)])
            t["stages"].append(now() - s0)
            t["cpu_stages"].append(child_cpu() - c0)
        c0, s0 = child_cpu(), now()
        check("phaedo-cleanup", dj.job.cleanup())
        t["cleanup"] = now() - s0
        t["cpu_cleanup"] = child_cpu() - c0
        t["total"] = t["config"] + t["prepare"] + sum(t["stages"]) + t["cleanup"]
        return dj.key, t
    finally:
        dj.job.remove()


# --------------------------------------------------------------------------- the floor side

class FloorSpec:
    """What the floor sends, taken from a calibration job of the driver."""

    def __init__(self, container_info, exec_argv, builds_dir):
        self.config = container_info["Config"]
        self.host = container_info["HostConfig"]
        self.driver_names = {"container": container_info["Name"].lstrip("/"),
                             "network": self.host["NetworkMode"]}
        self.driver_volume = next(m["Source"] for m in self.host.get("Mounts") or []
                                  if m.get("Target") == builds_dir)
        self.exec_cmd = list(exec_argv)
        # The driver's per-call directory (…/.phaedo/<id>) is an argument of its wrapper.
        dirs = [a for a in exec_argv if "/.phaedo/" in a and not a.endswith("/script") and "\n" not in a]
        if not dirs:
            raise Failed(f"calibration: no per-call directory among the driver's exec arguments {exec_argv[2:]}")
        self.driver_dir = dirs[0]
        self.builds_dir = builds_dir
        self.exec_working_dir = builds_dir

    def container_body(self, name, network, volume, labels):
        c, h = self.config, self.host
        mounts = []
        for m in h.get("Mounts") or []:
            mm = {"Type": m["Type"], "Target": m["Target"], "ReadOnly": bool(m.get("ReadOnly"))}
            src = m.get("Source", "")
            if src:
                mm["Source"] = volume if src == self.driver_volume else src
            mounts.append(mm)
        host = {"NetworkMode": network, "Mounts": mounts, "Privileged": False, "AutoRemove": False}
        for k in ("Memory", "MemorySwap", "NanoCpus", "PidsLimit"):
            if h.get(k):
                host[k] = h[k]
        for k in ("CapDrop", "CapAdd", "SecurityOpt", "Tmpfs"):
            if h.get(k):
                host[k] = h[k]
        if h.get("ReadonlyRootfs"):
            host["ReadonlyRootfs"] = True
        if h.get("Init"):
            host["Init"] = True
        body = {"Image": c["Image"], "Tty": False, "OpenStdin": False, "AttachStdin": False,
                "Cmd": c["Cmd"], "Entrypoint": c.get("Entrypoint") or [], "WorkingDir": c.get("WorkingDir", ""),
                "Hostname": name, "Labels": labels, "HostConfig": host}
        return body

    def exec_body(self, call_dir):
        cmd = [a.replace(self.driver_dir, call_dir) for a in self.exec_cmd]
        return {"AttachStdin": False, "AttachStdout": True, "AttachStderr": True, "Tty": False,
                "Privileged": False, "Cmd": cmd, "WorkingDir": self.exec_working_dir}


def script_archive(rel_dir, content):
    """The driver's upload: .phaedo/, .phaedo/<id>/, .phaedo/<id>/script (0755)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for d in (".phaedo", rel_dir):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(ti)
        ti = tarfile.TarInfo(rel_dir + "/script")
        ti.mode, ti.size = 0o755, len(content)
        tar.addfile(ti, io.BytesIO(content))
    return buf.getvalue()


FLOOR_SCRIPT = b"#!/usr/bin/env sh\ntrap 'exit 1' TERM\nset -e\ntrue\nexit 0\n"  # what Job.write_script writes


def floor_run(spec, sock, stages, index, poll_pause=0.005):
    """One job as direct Engine API calls; per-phase wall times in seconds."""
    key = f"r{BENCH_ID}-floor{index}"
    name = f"phaedo-{key}"
    network, volume = name, name + "-builds"
    labels = {JOB_LABEL: key, RUNNER_LABEL: BENCH_ID, EXPIRES_LABEL: str(int(time.time()) + 4500)}
    t = {"stages": [], "config": 0.0, "polls": 0}
    eng = Engine(sock)
    try:
        t0 = now()
        eng.negotiate()
        eng.call("GET", f"/images/{spec.config['Image']}/json")
        eng.call("POST", "/networks/create", {"Name": network, "Driver": "bridge", "Internal": False,
                                              "Labels": labels, "CheckDuplicate": True})
        eng.call("POST", "/volumes/create", {"Driver": "local", "Name": volume, "Labels": labels})
        eng.call("POST", "/volumes/create", {"Driver": "local", "Name": CACHE_VOLUME,
                                             "Labels": {"phaedo.io/cache": CACHE_VOLUME}})
        eng.call("POST", f"/containers/create?name={name}", spec.container_body(name, network, volume, labels))
        eng.raw("POST", f"/containers/{name}/start")
        t["prepare"] = now() - t0
        for i in range(stages):
            s0 = now()
            info = eng.call("GET", f"/containers/{name}/json")
            if not info["State"]["Running"]:
                raise Failed(f"floor container {name} is not running")
            rel = f".phaedo/{os.getpid()}-{time.time_ns()}"
            eng.raw("PUT", f"/containers/{name}/archive?path={spec.builds_dir}", body=script_archive(rel, FLOOR_SCRIPT),
                    headers={"Content-Type": "application/x-tar"})
            exec_id = eng.call("POST", f"/containers/{name}/exec", spec.exec_body(f"{spec.builds_dir}/{rel}"))["Id"]
            eng.exec_start(exec_id)
            while True:
                t["polls"] += 1
                e = eng.call("GET", f"/exec/{exec_id}/json")
                if not e["Running"] and e.get("ExitCode") is not None:
                    break
                time.sleep(poll_pause)
            if e["ExitCode"] != 0:
                raise Failed(f"floor stage {i}: exit code {e['ExitCode']}")
            t["stages"].append(now() - s0)
        c0 = now()
        eng.remove("container", name)
        eng.remove("network", network)
        eng.remove("volume", volume)
        t["cleanup"] = now() - c0
        t["total"] = t["prepare"] + sum(t["stages"]) + t["cleanup"]
        t["requests"] = eng.requests
        return key, t
    finally:
        eng.close()


# --------------------------------------------------------------------------- bookkeeping

def leftovers(engine, key):
    label = f"{JOB_LABEL}={key}"
    return [f"{k} {n}" for k in ("container", "network", "volume") for n in engine.list_names(k, label)]


def remove_everything(engine):
    """Everything labelled with this bench's runner id, plus its cache volume."""
    label = f"{RUNNER_LABEL}={BENCH_ID}"
    removed = []
    for kind in ("container", "network", "volume"):
        for n in engine.list_names(kind, label):
            engine.remove(kind, n)
            removed.append(f"{kind} {n}")
    _, data = engine.raw("GET", f"/volumes/{CACHE_VOLUME}", ok=(200, 404))
    if json.loads(data).get("Name") == CACHE_VOLUME:
        engine.remove("volume", CACHE_VOLUME)
    return removed


def median(xs):
    return statistics.median(xs)


def p90(xs):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(0.9 * len(s) + 0.5)) - 1))]


def ms(x):
    return f"{x * 1000:.1f}"


def summarize(runs):
    totals = [r["total"] for r in runs]
    return {
        "n": len(runs),
        "total_median": median(totals),
        "total_p90": p90(totals),
        "total_min": min(totals),
        "config_median": median([r["config"] for r in runs]),
        "prepare_median": median([r["prepare"] for r in runs]),
        "stage_mean_median": median([statistics.fmean(r["stages"]) for r in runs]),
        "stages_sum_median": median([sum(r["stages"]) for r in runs]),
        "cleanup_median": median([r["cleanup"] for r in runs]),
        "cleanup_p90": p90([r["cleanup"] for r in runs]),
        **({"cpu_config_median": median([r["cpu_config"] for r in runs]),
            "cpu_prepare_median": median([r["cpu_prepare"] for r in runs]),
            "cpu_stage_mean_median": median([statistics.fmean(r["cpu_stages"]) for r in runs]),
            "cpu_cleanup_median": median([r["cpu_cleanup"] for r in runs])} if "cpu_stages" in runs[0] else {}),
    }


# --------------------------------------------------------------------------- breakdown (where the time goes)

def timed(argv, n, env=None):
    xs = []
    for _ in range(n):
        t0 = now()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
        xs.append(now() - t0)
    return median(xs)


REQ_RE = re.compile(rb'(GET|POST|PUT|DELETE|HEAD) (/[^ ]*) HTTP/1\.1')


def strace_summary(path):
    """Parses `strace -f -ttt -T -s 128 -o path` output: requests sent, time from
    execve to the first request, fsync time, sleep time, wall time."""
    first = last = first_req = None
    requests, fsync_t, fsyncs, sleep_t, sleeps, connects = [], 0.0, 0, 0.0, 0, 0
    with open(path, "rb") as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3:
                continue
            try:
                ts = float(parts[1])
            except ValueError:
                continue
            rest = parts[2]
            first = ts if first is None else first
            last = ts
            dur = re.search(rb'<([0-9.]+)>\s*$', rest)
            d = float(dur.group(1)) if dur else 0.0
            if rest.startswith((b"fsync(", b"fdatasync(")):
                fsyncs += 1
                fsync_t += d
            elif rest.startswith((b"clock_nanosleep(", b"nanosleep(")):
                sleeps += 1
                sleep_t += d
            elif rest.startswith(b"connect(") and b"sun_path" in rest:
                connects += 1
            m = REQ_RE.search(rest) if rest.startswith((b"sendto(", b"write(", b"sendmsg(", b"writev(")) else None
            if m:
                requests.append(f"{m.group(1).decode()} {re.sub(r'^/v[0-9.]+', '', m.group(2).decode()).split('?')[0]}")
                if first_req is None:
                    first_req = ts
    return {"wall": (last - first) if first is not None else 0.0,
            "to_first_request": (first_req - first) if first_req is not None else 0.0,
            "requests": requests, "connects": connects,
            "fsyncs": fsyncs, "fsync_time": fsync_t, "sleeps": sleeps, "sleep_time": sleep_t}


def breakdown(args, profile, spec):
    """Measures the pieces of the driver's overhead (medians), prints a report."""
    out = {}
    bin_run = runner_emulator.program("phaedo-run")
    n = max(args.runs, 15)
    # 1. Process start: the program up to CLI parsing (no profile, no daemon).
    out["process_start_version"] = timed([bin_run, "--version"], n)
    out["process_start_true"] = timed(["/bin/true"], n)
    # 1b. Everything a stage does before it reaches the daemon: start, profile,
    #     payload, identity, admin log, curl setup (its socket does not exist).
    dead = BenchProfile(tempfile.mkdtemp(prefix="phaedo-bench-dead-"), "/nonexistent/docker.sock")
    dj = DriverJob(dead)
    xs, cpu = [], []
    for _ in range(n):
        script = dj.write_stage_script()
        c0, t0 = child_cpu(), now()
        rc, _, err = dj.job.call("phaedo-run", script, "step_script")
        xs.append(now() - t0)
        cpu.append(child_cpu() - c0)
        if rc != 2:
            raise Failed(f"phaedo-run against a dead socket: exit {rc}: {err}")
    out["run_before_daemon"], out["run_before_daemon_cpu"] = median(xs), median(cpu)
    dj.job.remove()
    shutil.rmtree(dead.root, ignore_errors=True)
    # 2. API negotiation on a new connection (what every stage process repeats).
    xs = []
    for _ in range(n):
        e = Engine(args.socket)
        t0 = now()
        e.negotiate()
        xs.append(now() - t0)
        e.close()
    out["negotiate_new_connection"] = median(xs)
    e = Engine(args.socket)
    e.negotiate()
    for path in ("/_ping", "/version"):
        xs = []
        for _ in range(n):
            t0 = now()
            e.raw("GET", path, versioned=False)
            xs.append(now() - t0)
        out["get_ping" if path == "/_ping" else "get_version"] = median(xs)
    e.close()
    # 3. The calls the driver adds: label listings (prepare's leftover sweep and
    #    cleanup's backstop: 3 each), the container inspect is in the floor already.
    e = Engine(args.socket)
    e.negotiate()
    xs = []
    for _ in range(n):
        t0 = now()
        for kind in ("container", "network", "volume"):
            e.list_names(kind, f"{JOB_LABEL}=r{BENCH_ID}-nonexistent")
        xs.append(now() - t0)
    out["label_sweep_3_lists"] = median(xs)
    e.close()
    # 4. strace of one job's programs: requests per program, time to first
    #    request (start + profile + payload + journal open), fsyncs, sleeps.
    if shutil.which("strace"):
        tracedir = tempfile.mkdtemp(prefix="phaedo-bench-strace-")
        try:
            dj = DriverJob(profile)
            traced = {}

            def traced_call(label, name, *a):
                p = os.path.join(tracedir, label)
                rc, _, err = _strace_call(dj.job, p, name, *a)
                if rc != 0:
                    raise Failed(f"traced {name}: exit {rc}: {err}")
                traced[label] = strace_summary(p)

            traced_call("config", "config")
            dj.job.job_env = json.loads(check("config", dj.job.config())).get("job_env", {})
            traced_call("prepare", "prepare")
            for i in range(3):
                traced_call(f"run{i}", "run", dj.write_stage_script(), SUB_STAGES[i])
            traced_call("cleanup", "cleanup")
            dj.job.remove()
            out["strace"] = traced
        finally:
            shutil.rmtree(tracedir, ignore_errors=True)
    return out


def _strace_call(job, trace_path, name, *args):
    p = subprocess.Popen(["strace", "-f", "-ttt", "-T", "-s", "128", "-o", trace_path,
                          runner_emulator.program("phaedo-" + name), "--profile", job.profile.path, *args],
                         cwd=job.tmp, env=job.env(), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)
    out, err = p.communicate(timeout=120)
    return p.returncode, out.decode(), err.decode()


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "15")),
                    help="runs of each side (default 15)")
    ap.add_argument("--stages", type=int, default=10, help="sub-stages per job (default 10)")
    ap.add_argument("--bin", default=os.environ.get("PHAEDO_BIN") or os.path.join(ROOT, "build", "install", "bin"),
                    help="directory of the installed phaedo-* programs (default build/install/bin or $PHAEDO_BIN)")
    ap.add_argument("--socket", default=SOCKET)
    ap.add_argument("--json", help="write all measurements to this file")
    ap.add_argument("--breakdown", action="store_true", help="also measure where the driver's overhead goes")
    ap.add_argument("--floor-poll-ms", type=float, default=5.0,
                    help="pause between the floor's exec-inspect polls (default 5)")
    args = ap.parse_args()

    runner_emulator.BIN = os.path.abspath(args.bin)
    runner_emulator.program("phaedo-run")  # fails early when not installed

    engine = Engine(args.socket)
    version = engine.negotiate()
    if ensure_image(engine):
        print(f"imported {IMAGE}", file=sys.stderr)
    root = tempfile.mkdtemp(prefix="phaedo-bench-")
    profile = BenchProfile(root, args.socket)
    driver, floor, problems = [], [], []
    result = {}
    try:
        # Calibration (not counted; also warms caches): a driver job whose
        # container and first exec tell the floor what to send.
        spec, key = calibrate(profile, args.socket)
        floor_run(spec, args.socket, 1, 0, args.floor_poll_ms / 1000)  # warm the floor path too
        for k in (key, f"r{BENCH_ID}-floor0"):
            if leftovers(engine, k):
                problems.append(f"calibration left {leftovers(engine, k)}")

        for i in range(args.runs):
            order = ("driver", "floor") if i % 2 == 0 else ("floor", "driver")
            for side in order:
                if side == "driver":
                    key, t = driver_run(profile, args.stages)
                    driver.append(t)
                else:
                    key, t = floor_run(spec, args.socket, args.stages, i + 1, args.floor_poll_ms / 1000)
                    floor.append(t)
                left = leftovers(engine, key)
                if left:
                    problems.append(f"{side} run {i}: left {left}")
                    for item in left:
                        kind, name = item.split(" ", 1)
                        engine.remove(kind, name)
            print(f"run {i + 1}/{args.runs}: driver {ms(driver[-1]['total'])} ms, floor {ms(floor[-1]['total'])} ms",
                  file=sys.stderr)

        d, f = summarize(driver), summarize(floor)
        ratios = sorted(a["total"] / b["total"] for a, b in zip(driver, floor))
        result = {
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "machine": f"{os.cpu_count()} cores, Docker {version.get('Version')} (API {version.get('ApiVersion')})",
            "runs": args.runs, "stages": args.stages, "driver": d, "floor": f,
            "ratio_of_medians": d["total_median"] / f["total_median"],
            "ratio_p90": d["total_p90"] / f["total_p90"],
            "pairwise_ratio_median": median(ratios),
            "floor_requests_per_job": floor[-1]["requests"],
            "floor_exec_polls_per_stage": statistics.fmean(r["polls"] for r in floor) / args.stages,
            "problems": problems,
            "floor_exec_cmd_head": spec.exec_cmd[:1],
        }
        if args.breakdown:
            result["breakdown"] = breakdown(args, profile, spec)
        print_report(result)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({**result, "driver_runs": driver, "floor_runs": floor}, fh, indent=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        removed = remove_everything(engine)
        left = [n for k in ("container", "network", "volume") for n in engine.list_names(k, f"{RUNNER_LABEL}={BENCH_ID}")]
        engine.close()
        if removed:
            print(f"removed leftovers: {removed}", file=sys.stderr)
        if left:
            print(f"COULD NOT REMOVE: {left}", file=sys.stderr)
            sys.exit(1)
    target_met = result["ratio_of_medians"] <= 1.2 and result["driver"]["cleanup_median"] < 1.0
    print(f"\ntarget (ratio <= 1.2, cleanup < 1 s): {'met' if target_met else 'NOT met'}")
    return 0 if not problems else 1


def print_report(r):
    d, f = r["driver"], r["floor"]
    print(f"\n{r['date']} - {r['machine']} - {r['runs']} runs each, {r['stages']} sub-stages per job\n")
    print("| | driver (phaedo-*) | floor (direct API) | driver / floor |")
    print("|---|---:|---:|---:|")
    rows = [("job total, median (ms)", "total_median"), ("job total, p90 (ms)", "total_p90"),
            ("config, median (ms)", "config_median"), ("prepare, median (ms)", "prepare_median"),
            ("run sub-stage, mean per job, median (ms)", "stage_mean_median"),
            ("cleanup, median (ms)", "cleanup_median"), ("cleanup, p90 (ms)", "cleanup_p90")]
    for label, k in rows:
        ratio = f"{d[k] / f[k]:.2f}" if f[k] > 0 else "-"
        print(f"| {label} | {ms(d[k])} | {ms(f[k])} | {ratio} |")
    print(f"\nratio of medians {r['ratio_of_medians']:.2f} (pairwise median {r['pairwise_ratio_median']:.2f}, "
          f"p90 {r['ratio_p90']:.2f}); floor: {r['floor_requests_per_job']} requests/job, "
          f"{r['floor_exec_polls_per_stage']:.2f} exec inspects/stage")
    if "cpu_stage_mean_median" in d:
        print(f"driver CPU (user+sys of the stage programs), medians: config {ms(d['cpu_config_median'])} ms, "
              f"prepare {ms(d['cpu_prepare_median'])} ms, run sub-stage {ms(d['cpu_stage_mean_median'])} ms, "
              f"cleanup {ms(d['cpu_cleanup_median'])} ms")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for p in r["problems"]:
        print(f"PROBLEM: {p}")
    b = r.get("breakdown")
    if b:
        print("\nbreakdown (medians):")
        print(f"  phaedo-run --version (process start, CLI): {ms(b['process_start_version'])} ms "
              f"(/bin/true: {ms(b['process_start_true'])} ms)")
        print(f"  phaedo-run up to the daemon (dead socket): {ms(b['run_before_daemon'])} ms wall, "
              f"{ms(b['run_before_daemon_cpu'])} ms CPU")
        print(f"  GET /_ping + GET /version on a new connection: {ms(b['negotiate_new_connection'])} ms "
              f"(keep-alive: /_ping {ms(b['get_ping'])} ms, /version {ms(b['get_version'])} ms)")
        print(f"  3 label listings (containers, networks, volumes): {ms(b['label_sweep_3_lists'])} ms")
        for label, s in (b.get("strace") or {}).items():
            print(f"  strace {label}: wall {ms(s['wall'])} ms, to first request {ms(s['to_first_request'])} ms, "
                  f"{len(s['requests'])} requests on {s['connects']} connections, "
                  f"{s['fsyncs']} fsyncs {ms(s['fsync_time'])} ms, {s['sleeps']} sleeps {ms(s['sleep_time'])} ms")
            print(f"      {', '.join(s['requests'])}")


if __name__ == "__main__":
    sys.exit(main())
