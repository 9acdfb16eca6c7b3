"""docker_api = "scoped" through the installed stage programs (runner_emulator.py) against the
real daemon, with the docker CLI inside the job container talking to its mounted socket.

Wiring: prepare starts the job's phaedo-dockerscope detached and journaled, the container
gets DOCKER_HOST and the socket, cleanup stops the proxy and removes its directory.
BuildPushPull: a multi-stage build pushed to a real registry, pulled and run by a second
job, rebuilt from cached layers by a third; nothing of any job remains after its cleanup.
Crash: the driver is SIGKILLed mid-job; phaedo-admin release/reap stops the proxy and
removes what the job made through it. Inside: escape attempts from inside the container.
"""

import json
import os
import re
import signal
import subprocess
import time
import unittest
import urllib.request
import base64

import scoped_env
import docker_env  # after scoped_env, which puts tests/dockersandbox on the path
import test_docker_sandbox
from scoped_env import CLI_IMAGE, IMAGE, ScopedProfile, docker, image_present, leftovers, proxy_pids, run_id
from runner_emulator import program

setUpModule = scoped_env.require_peers
tearDownModule = scoped_env.remove_run_leftovers

DOCKERFILE = f"""FROM {IMAGE} AS builder
RUN mkdir -p /out && printf '#!/bin/sh\\necho device-plugin built in stage one\\n' > /out/plugin && chmod 755 /out/plugin
RUN echo layer-two > /out/notes
FROM {IMAGE}
COPY --from=builder /out/plugin /usr/bin/plugin
COPY --from=builder /out/notes /etc/plugin-notes
CMD ["/usr/bin/plugin"]
"""


def write_dockerfile_script(directory="/builds/ctx"):
    return (f"mkdir -p {directory} && cat > {directory}/Dockerfile <<'PHAEDO_EOF'\n{DOCKERFILE}PHAEDO_EOF\n")


class ScopedTest(test_docker_sandbox.DockerSandboxTest):
    """DockerSandboxTest's job helpers with a scoped profile and the docker-CLI job image."""

    def setUp(self):
        super().setUp()
        self.profile = ScopedProfile(self.root)

    def new_job(self, profile=None, image=CLI_IMAGE, variables=()):
        return super().new_job(profile=profile, image=image, variables=variables)

    def run_ok(self, job, script, timeout=240):
        rc, out, err = job.run(script, timeout=timeout)
        self.assertEqual(rc, 0, f"script failed ({rc}):\n{out}\n{err}")
        return out

    def cleanup_ok(self, job):
        rc, out, err = job.cleanup()
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(leftovers(self.profile, job.key), {}, "left after cleanup")


class Wiring(ScopedTest):
    def test_job_reaches_its_scoped_api_through_docker_host(self):
        job = self.prepared_job()
        out = self.run_ok(job, 'echo "host=$DOCKER_HOST"; docker version --format "{{.Server.APIVersion}}"; '
                               'docker ps -a --format "{{.Names}}"')
        lines = out.split("\n")
        self.assertEqual(lines[0], "host=unix:///var/run/phaedo/docker.sock")
        self.assertRegex(lines[1], r"^1\.\d+$")
        self.assertEqual([line for line in lines[2:] if line], [f"phaedo-{job.key}"],
                         "the job lists only its own (labelled) container")
        info = json.loads(docker("inspect", f"phaedo-{job.key}").stdout)[0]
        self.assertIn("DOCKER_HOST=unix:///var/run/phaedo/docker.sock", info["Config"]["Env"])
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        self.assertEqual(mounts["/var/run/phaedo"]["Source"], os.path.join(self.profile.scope_dir(job.key), "sock"))
        self.cleanup_ok(job)

    def test_proxy_is_detached_journaled_and_its_files_are_private(self):
        job = self.prepared_job()
        pids = proxy_pids(self.profile.state_dir, job.key)
        self.assertEqual(len(pids), 1, "one proxy after prepare")
        pid = pids[0]
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        pgrp, session = int(fields[2]), int(fields[3])
        self.assertEqual(pgrp, session, "the proxy is in a session of its own (setsid)")
        self.assertNotEqual(session, os.getsid(0), "not the runner's (the stage's) session")
        with open(self.profile.journal(job.key)) as f:
            records = json.load(f)["records"]
        proc = [r for r in records if r["kind"] == "dockerscope"]
        self.assertEqual([r["id"] for r in proc], [str(pid)])
        self.assertEqual(proc[0]["phase"], "created")
        self.assertEqual(proc[0]["attrs"]["start"], fields[19], "start time tells it from a reused pid")
        d = self.profile.scope_dir(job.key)
        self.assertEqual(os.stat(d).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(d, "sock")).st_mode & 0o777, 0o755)
        self.assertEqual(os.stat(os.path.join(d, "sock", "docker.sock")).st_mode & 0o777, 0o666)
        # The job sees the socket only, never the image record (which cleanup trusts).
        out = self.run_ok(job, "ls -a /var/run/phaedo")
        self.assertEqual(sorted(out.split()), [".", "..", "docker.sock"])
        # It answers after prepare's whole process group is gone.
        r = subprocess.run(["curl", "-sS", "--unix-socket", os.path.join(d, "sock", "docker.sock"),
                            "http://docker/_ping"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.stdout, "OK")
        self.cleanup_ok(job)
        self.assertFalse(os.path.exists(f"/proc/{pid}/cmdline") and pid in proxy_pids(self.profile.state_dir, job.key))

    def test_prepare_twice_replaces_the_proxy(self):
        job = self.prepared_job()
        first = proxy_pids(self.profile.state_dir, job.key)
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        second = proxy_pids(self.profile.state_dir, job.key)
        self.assertEqual(len(second), 1)
        self.assertNotEqual(first, second, "the earlier attempt's proxy was stopped")
        self.run_ok(job, "docker ps")
        self.cleanup_ok(job)

    def test_missing_proxy_binary_is_a_system_failure_naming_the_field(self):
        profile = ScopedProfile(self.root, docker_extra='dockerscope_binary = "/nonexistent/phaedo-dockerscope"')
        job = self.new_job(profile=profile)
        self.assertEqual(job.config()[0], 0)
        rc, _, err = job.prepare()
        self.assertEqual(rc, 2, err)
        self.assertIn("docker.dockerscope_binary /nonexistent/phaedo-dockerscope", err)
        self.assertEqual(len([line for line in err.splitlines() if "error" in line.lower()]), 1, err)
        self.cleanup_ok(job)

    def test_proxy_that_never_serves_fails_prepare_naming_the_socket_and_its_output(self):
        fake = os.path.join(self.root, "broken-dockerscope")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'boom: cannot serve' >&2\nexit 3\n")
        os.chmod(fake, 0o755)
        profile = ScopedProfile(self.root, docker_extra=f'dockerscope_binary = "{fake}"')
        job = self.new_job(profile=profile)
        self.assertEqual(job.config()[0], 0)
        rc, _, err = job.prepare()
        self.assertEqual(rc, 2, err)
        socket = os.path.join(profile.scope_dir(job.key), "sock", "docker.sock")
        self.assertIn(f"phaedo-dockerscope exited before serving {socket}", err)
        self.assertIn("boom: cannot serve", err)
        self.cleanup_ok(job)

    def test_pid_reused_by_another_process_is_not_killed(self):
        job = self.prepared_job()
        pid = proxy_pids(self.profile.state_dir, job.key)[0]
        decoy = subprocess.Popen(["sleep", "300"])
        try:
            path = self.profile.journal(job.key)
            with open(path) as f:
                journal = json.load(f)
            for r in journal["records"]:
                if r["kind"] == "dockerscope":
                    r["id"] = str(decoy.pid)  # a pid the journal names that is not the proxy
            with open(path, "w") as f:
                json.dump(journal, f)
            self.cleanup_ok(job)
            self.assertIsNone(decoy.poll(), "a process that is not the job's proxy survives cleanup")
            self.assertNotIn(pid, proxy_pids(self.profile.state_dir, job.key), "the real proxy was found by its socket")
        finally:
            decoy.kill()
            decoy.wait()


class BuildPushPull(ScopedTest):
    @classmethod
    def setUpClass(cls):
        cls.registry = scoped_env.start_registry()
        cls.user, cls.password = scoped_env.registry_env.USER, scoped_env.registry_env.PASSWORD

    @classmethod
    def tearDownClass(cls):
        docker("rmi", f"{cls.registry.host}/phaedo/plugin:{run_id()}", check=False)
        cls.registry.stop()

    def registry_tags(self, repository):
        req = urllib.request.Request(f"http://{self.registry.host}/v2/{repository}/tags/list")
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        req.add_header("Authorization", "Basic " + token)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r).get("tags") or []
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise

    def login(self):
        return f"echo '{self.password}' | docker login {self.registry.host} -u {self.user} --password-stdin\n"

    def test_build_push_then_pull_and_run_then_rebuild_from_cache(self):
        ref = f"{self.registry.host}/phaedo/plugin:{run_id()}"
        base_before = scoped_env.image_id(IMAGE)
        # Job one: multi-stage build, push, and a container, network and volume of its own.
        one = self.prepared_job()
        out = self.run_ok(one, write_dockerfile_script() + self.login() +
                          f"docker build -t {ref} /builds/ctx\n"
                          f"docker push {ref}\n"
                          f"docker run --rm {ref}\n"
                          f"docker network create {run_id()}-net1 >/dev/null\n"
                          f"docker volume create {run_id()}-vol1 >/dev/null\n"
                          f"docker run -d --name {run_id()}-c1 --network {run_id()}-net1 "
                          f"-v {run_id()}-vol1:/data {IMAGE} sleep 600 >/dev/null\n"
                          f"docker run -d --name {run_id()}-c2 {IMAGE} sleep 600 >/dev/null\n"
                          "docker ps --format '{{.Names}}' | sort\n")
        self.assertIn("device-plugin built in stage one", out)
        self.assertIn(f"{run_id()}-c1\n{run_id()}-c2", out)
        built = scoped_env.image_id(ref)
        self.assertIsNotNone(built)
        self.assertEqual(self.registry_tags("phaedo/plugin"), [run_id()])
        with open(os.path.join(self.profile.scope_dir(one.key), "images.json")) as f:
            record = json.load(f)
        self.assertIn(built, record["images"])
        self.assertIn(ref, record["tags"])
        self.cleanup_ok(one)
        self.assertFalse(image_present(ref), "the job's tag is gone")
        self.assertFalse(image_present(built), "the job's image is gone")
        self.assertEqual(scoped_env.image_id(IMAGE), base_before, "the shared base image stays")
        self.assertEqual(self.registry_tags("phaedo/plugin"), [run_id()], "the registry copy stays")

        # Job two pulls what job one pushed and runs it.
        two = self.prepared_job()
        out = self.run_ok(two, self.login() + f"docker pull {ref} >/dev/null\ndocker run --rm {ref}\n")
        self.assertIn("device-plugin built in stage one", out)
        self.cleanup_ok(two)
        docker("rmi", ref, check=False)  # a pull is the shared cache; this test removes its own

        # Job three builds the same Dockerfile: every layer job one built is a cache hit.
        three = self.prepared_job()
        t0 = time.monotonic()
        out = self.run_ok(three, write_dockerfile_script() + f"docker build -t {run_id()}-again:1 /builds/ctx\n")
        seconds = time.monotonic() - t0
        hits = len(re.findall(r"Using cache", out))
        self.assertGreaterEqual(hits, 4, out)
        again = scoped_env.image_id(f"{run_id()}-again:1")
        self.cleanup_ok(three)
        self.assertFalse(image_present(again), "job three's image is gone")
        print(f"\nrebuild in job three: {hits} cache hits, {seconds:.2f} s")

    def test_image_in_use_by_someone_else_is_left_not_forced(self):
        job = self.prepared_job()
        tag = f"{run_id()}-inuse:1"
        self.run_ok(job, write_dockerfile_script() + f"docker build -q -t {tag} /builds/ctx >/dev/null\n")
        image = scoped_env.image_id(tag)
        holder = f"{run_id()}-holder"
        docker("create", "--name", holder, "--label", f"phaedo.io/runner={run_id()}", image, "true")
        try:
            rc, out, err = job.cleanup()
            self.assertEqual(rc, 0, out + err)
            self.assertTrue(image_present(image), "an image another container uses is not forced away")
            self.assertEqual(leftovers(self.profile, job.key), {})
            with open(self.profile.admin_log) as f:
                self.assertIn("left an image of the job that is still in use", f.read())
        finally:
            docker("rm", "-f", holder, check=False)
            docker("rmi", "-f", image, check=False)


class Crash(ScopedTest):
    def admin(self, *args):
        r = subprocess.run([program("phaedo-admin"), "--profile", self.profile.path, *args],
                           capture_output=True, text=True, timeout=120)
        return r.returncode, r.stdout, r.stderr

    def abandon_with_objects(self, job):
        """The driver dies mid-job: the run stage is SIGKILLed after the job made objects."""
        p = job.start_run(f"docker network create {job.key}-n >/dev/null && "
                          f"docker run -d --name {job.key}-c --network {job.key}-n {IMAGE} sleep 600 >/dev/null && "
                          f"docker volume create {job.key}-v >/dev/null && docker tag {IMAGE} {job.key}-tag:1 && "
                          f"echo made; sleep 600")
        line = p.stdout.readline().decode()
        if line != "made\n":
            p.wait(timeout=60)
            self.fail(f"the job did not make its objects: {line}{p.stdout.read().decode()}{p.stderr.read().decode()}")
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()
        self.assertTrue(proxy_pids(self.profile.state_dir, job.key), "the proxy outlives the driver")
        self.assertIn(f"{job.key}-c", scoped_env.docker_env.labelled("container", job.key))

    def test_release_after_the_driver_was_killed_removes_everything(self):
        job = self.prepared_job()
        self.abandon_with_objects(job)
        rc, out, err = self.admin("release", job.key)
        self.assertEqual(rc, 0, out + err)
        self.assertEqual(leftovers(self.profile, job.key), {})
        self.assertFalse(image_present(f"{job.key}-tag:1"))
        self.assertTrue(image_present(IMAGE), "the tagged base image itself stays")

    def test_reap_after_expiry_removes_everything(self):
        job = self.prepared_job()
        self.abandon_with_objects(job)
        path = self.profile.journal(job.key)
        with open(path) as f:
            journal = json.load(f)
        journal["expires"] = int(time.time()) - 1
        with open(path, "w") as f:
            json.dump(journal, f)
        rc, out, err = self.admin("reap")
        self.assertEqual(rc, 0, out + err)
        self.assertIn(f"reaped {job.key}", out)
        self.assertEqual(leftovers(self.profile, job.key), {})
        self.assertFalse(image_present(f"{job.key}-tag:1"))

    def test_proxy_killed_mid_job_is_still_cleaned_up(self):
        job = self.prepared_job()
        self.run_ok(job, f"docker run -d --name {job.key}-c {IMAGE} sleep 600 >/dev/null")
        for pid in proxy_pids(self.profile.state_dir, job.key):
            os.kill(pid, signal.SIGKILL)
        self.cleanup_ok(job)


class JobCgroup(ScopedTest):
    """docker.job_cgroup: the profile's limits hold for the sum of the job's containers."""

    # a: 40 sleeping processes. b: a second later (so no docker CLI of the job is starting
    # threads then), 40 more, one line per fork; a shell that cannot fork exits, and b with
    # it. Each container alone is within the per-container pids limit (64).
    SCRIPT = (
        "docker run -d --name {a} {image} sh -c 'for i in $(seq 40); do sleep 600 & done; echo a-started; wait'\n"
        "i=0; until docker logs {a} 2>&1 | grep -q a-started; do i=$((i+1)); [ $i -lt 100 ] || exit 3; sleep 0.1; done\n"
        "docker run -d --name {b} {image} sh -c "
        "'sleep 1; for i in $(seq 40); do sleep 5 & echo b-forked $i; done; echo b-all-started; wait'\n"
        "echo b-exit=$(docker wait {b})\n"
        "docker inspect -f '{{{{.Name}}}} parent={{{{.HostConfig.CgroupParent}}}}' {a} {b}\n")

    def run_pair(self, profile):
        job = self.prepared_job(profile=profile)
        a, b = f"{run_id()}-{job.key}-a", f"{run_id()}-{job.key}-b"
        out = self.run_ok(job, self.SCRIPT.format(a=a, b=b, image=IMAGE), timeout=120)
        in_a = len(docker("top", a).stdout.strip().splitlines()) - 1  # minus the header
        b_log = docker("logs", b).stdout
        forked = [int(line.split()[1]) for line in b_log.splitlines() if line.startswith("b-forked ")]
        return job, out, in_a, b_log, max(forked, default=0)

    def test_containers_started_by_the_job_share_its_limits(self):
        profile = ScopedProfile(self.root, memory="256m", pids=64)
        job, out, in_a, b_log, b_forked = self.run_pair(profile)
        parent = f"/phaedo-docker/{job.key}"
        self.assertIn(f"-a parent={parent}", out)
        self.assertIn(f"-b parent={parent}", out)
        info = json.loads(docker("inspect", f"phaedo-{job.key}").stdout)[0]
        self.assertEqual(info["HostConfig"]["CgroupParent"], parent, "the job container is in the job's cgroup")

        def read(hierarchy, name):
            with open(f"/sys/fs/cgroup/{hierarchy}{parent}/{name}") as f:
                return f.read().split()
        self.assertEqual(read("memory", "memory.limit_in_bytes"), [str(256 << 20)])
        self.assertEqual(read("cpu", "cpu.cfs_quota_us"), ["100000"])
        self.assertEqual(read("pids", "pids.max"), ["64"])
        # a holds its 41; the job container's processes count too; b gets what is left.
        self.assertEqual(in_a, 41, out)
        self.assertNotIn("b-all-started", b_log, "b started all its processes: the job's pids limit did not hold")
        self.assertLess(b_forked, 40, b_log)
        self.assertTrue(docker_env.job_cgroup_dirs(job.key))
        self.cleanup_ok(job)  # also: no directory of the job cgroup left in any hierarchy

    def test_without_the_job_cgroup_each_container_is_limited_alone(self):
        # The control: with job_cgroup = "off" the same two containers both start everything.
        profile = ScopedProfile(self.root, memory="256m", pids=64, docker_extra='job_cgroup = "off"')
        job, out, in_a, b_log, b_forked = self.run_pair(profile)
        self.assertEqual(in_a, 41, out)
        self.assertIn("b-all-started", b_log)
        self.assertEqual(b_forked, 40)
        self.assertIn("b-exit=0", out)
        self.assertIn("-a parent=\n", out + "\n")
        self.assertEqual(docker_env.job_cgroup_dirs(job.key), [])
        self.cleanup_ok(job)


class Inside(ScopedTest):
    """Escape attempts by the docker CLI inside the job container, through the mounted socket."""

    ATTEMPTS = {
        "privileged": "docker run --rm --privileged {img} true",
        "host bind": "docker run --rm -v /:/host {img} true",
        "bind mount": "docker run --rm --mount type=bind,source=/etc,target=/x {img} true",
        "host network": "docker run --rm --network host {img} true",
        "host pid": "docker run --rm --pid host {img} true",
        "sys_admin": "docker run --rm --cap-add SYS_ADMIN {img} true",
        "unconfined seccomp": "docker run --rm --security-opt seccomp=unconfined {img} true",
        "device": "docker run --rm --device /dev/kmsg {img} true",
        "local volume binding a host path":
            "docker volume create -o type=none -o o=bind -o device=/etc {key}-evil",
        "swarm": "docker swarm init",
        "system prune": "docker system prune -f",
        "build on the host network": "docker build --network host -t {key}-x /builds/ctx",
        "foreign container": "docker rm -f {foreign}",
        "foreign exec": "docker exec {foreign} true",
        "foreign logs": "docker logs {foreign}",
        "foreign copy": "docker cp {foreign}:/etc/passwd /tmp/p",
        "foreign commit": "docker commit {foreign} {key}-stolen:1",
        "base image removal": "docker rmi {img}",
    }

    def test_escape_attempts_from_inside_are_refused_and_change_nothing(self):
        foreign = f"{run_id()}-foreign"
        try:
            docker("run", "-d", "--name", foreign, "--network", "none", "--label", f"phaedo.io/runner={run_id()}",
                   "--label", "phaedo.io/job=someone-else", IMAGE, "sleep", "600")
            job = self.prepared_job()
            before = docker("ps", "-a", "-q", "--no-trunc").stdout.split()
            script = write_dockerfile_script()
            for name, cmd in self.ATTEMPTS.items():
                c = cmd.format(img=IMAGE, key=job.key, foreign=foreign)
                script += f"if {c} >/tmp/o 2>&1; then echo 'ALLOWED {name}'; else grep -q 'phaedo: ' /tmp/o " \
                          f"&& echo 'REFUSED {name}' || {{ echo 'OTHER {name}'; cat /tmp/o; }}; fi\n"
            out = self.run_ok(job, script)
            for name in self.ATTEMPTS:
                self.assertIn(f"REFUSED {name}", out, out)
            # No container appeared that is this job's or nobody's (the daemon is shared: other
            # tests' containers, labelled with their own jobs, may come and go meanwhile).
            appeared = set(docker("ps", "-a", "-q", "--no-trunc").stdout.split()) - set(before)
            owners = {}
            for c in appeared:
                r = docker("inspect", "--format", '{{index .Config.Labels "phaedo.io/job"}}', c, check=False)
                if r.returncode == 0:  # else already gone again
                    owners[c] = r.stdout.strip()
            self.assertEqual({c: o for c, o in owners.items() if o in ("", job.key)}, {},
                             "containers created by the escape attempts")
            self.assertIn("running", docker("inspect", "--format", "{{.State.Status}}", foreign).stdout)
            self.assertEqual(docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip(), "inactive")
            self.cleanup_ok(job)
        finally:
            docker("rm", "-f", foreign, check=False)


if __name__ == "__main__":
    unittest.main()
