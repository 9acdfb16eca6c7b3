"""sandbox = "docker" end to end: the installed stage programs, called the way
gitlab-runner calls them (runner_emulator.py), against the real Docker daemon."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import docker_env
from docker_env import DockerProfile, docker, labelled, run_id
from runner_emulator import Job, job_payload, program, terminate_group, wait_for_file

setUpModule = docker_env.require_daemon
tearDownModule = docker_env.remove_run_leftovers


class DockerSandboxTest(unittest.TestCase):
    next_job_id = int(time.time()) % 100000 * 10

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="phaedo-dsb-")
        self.profile = DockerProfile(self.root)
        self.jobs = []

    def tearDown(self):
        for job in self.jobs:
            job.cleanup()
            job.remove()
        shutil.rmtree(self.root, ignore_errors=True)

    def new_job(self, profile=None, image=None, variables=()):
        DockerSandboxTest.next_job_id += 1
        payload = job_payload(DockerSandboxTest.next_job_id, runner_id=run_id(), variables=variables)
        if image:
            payload["image"] = {"name": image}
        job = Job(profile or self.profile, payload)
        self.jobs.append(job)
        return job

    def prepared_job(self, **kw):
        job = self.new_job(**kw)
        rc, _, err = job.config()
        self.assertEqual(rc, 0, err)
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        return job

    def container(self, job):
        return f"phaedo-{job.key}"

    def job_processes(self, job):
        """Processes in the job container outside PID 1's process group."""
        out = docker("exec", self.container(job), "sh", "-c",
                     'for e in /proc/[0-9]*; do read -r l < $e/stat; set -- ${l##*)}; '
                     '[ "$3" = 1 ] || [ "${e#/proc/}" = $$ ] || echo "${e#/proc/} $l"; done').stdout
        return [line for line in out.splitlines() if line.strip()]

    def assert_nothing_left(self, job):
        for kind in ("container", "network", "volume"):
            self.assertEqual(labelled(kind, job.key), [], f"{kind}s labelled with {job.key} remain")
        self.assertEqual(docker_env.job_cgroup_dirs(job.key), [], "the job's cgroup remains")


class Config(DockerSandboxTest):
    def test_paths_are_inside_the_container_and_job_env_has_the_key(self):
        job = self.new_job()
        rc, out, err = job.config()
        self.assertEqual(rc, 0, err)
        cfg = json.loads(out)
        self.assertEqual(cfg["builds_dir"], "/builds")
        self.assertEqual(cfg["cache_dir"], "/cache")
        self.assertEqual(cfg["shell"], "sh")
        self.assertEqual(cfg["job_env"]["PHAEDO_JOB_KEY"], job.key)


class Run(DockerSandboxTest):
    def test_success_output_is_streamed_as_it_arrives(self):
        job = self.prepared_job()
        proc = job.start_run("echo first; echo to-stderr >&2; sleep 3; echo second")
        t0 = time.monotonic()
        first = proc.stdout.readline().decode()
        self.assertEqual(first, "first\n")
        self.assertLess(time.monotonic() - t0, 2.5, "first line must arrive before the script ends")
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out.decode(), "second\n")
        self.assertIn("to-stderr", err.decode())

    def test_runs_in_the_job_container_with_hardening(self):
        job = self.prepared_job()
        rc, out, err = job.run("hostname; pwd; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status")
        self.assertEqual(rc, 0, err)
        lines = out.split("\n")
        self.assertEqual(lines[0], self.container(job))
        self.assertEqual(lines[1], "/builds")
        self.assertIn("0000000000000000", lines[2])
        self.assertTrue(lines[3].endswith("1"), lines[3])
        info = json.loads(docker("inspect", self.container(job)).stdout)[0]
        self.assertFalse(info["HostConfig"]["Privileged"])
        self.assertEqual(info["HostConfig"]["PidsLimit"], 64)
        self.assertEqual(info["HostConfig"]["Memory"], 64 << 20)
        self.assertEqual(info["Config"]["Labels"]["phaedo.io/job"], job.key)
        self.assertEqual(info["Config"]["Labels"]["phaedo.io/runner"], run_id())
        self.assertGreater(int(info["Config"]["Labels"]["phaedo.io/expires"]), time.time() + 600)

    def test_script_failure_reports_its_exit_code(self):
        job = self.prepared_job()
        rc, _, err = job.run("exit 7")
        self.assertEqual(rc, 1, err)
        self.assertEqual(job.exit_code_file_content().strip(), "7")

    def test_any_sub_stage_name_runs_and_files_persist_between_stages(self):
        job = self.prepared_job()
        rc, _, err = job.run("echo kept > /builds/f", stage="step_made_up_by_a_future_runner")
        self.assertEqual(rc, 0, err)
        rc, out, err = job.run("cat /builds/f", stage="after_script")
        self.assertEqual((rc, out), (0, "kept\n"), err)

    def test_background_leftovers_do_not_hold_the_stage_open(self):
        job = self.prepared_job()
        t0 = time.monotonic()
        rc, _, err = job.run("sleep 300 &\necho started", timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(self.job_processes(job), [])

    def test_unprepared_job_is_a_system_failure(self):
        job = self.new_job()
        job.config()
        rc, _, err = job.run("true")
        self.assertEqual(rc, 2, err)
        self.assertIn("not prepared", err)


class Hardening(DockerSandboxTest):
    def test_read_only_rootfs_still_runs_scripts(self):
        profile = DockerProfile(self.root, docker_extra="read_only_rootfs = true")
        job = self.new_job(profile=profile)
        job.config()
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        rc, out, err = job.run("touch /etc/x 2>/dev/null && echo rootfs-writable; echo ok > /tmp/t; cat /tmp/t; "
                               "echo b > /builds/b && echo builds-ok")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.split(), ["ok", "builds-ok"])


class Limits(DockerSandboxTest):
    def test_memory_hog_is_a_build_failure_saying_out_of_memory(self):
        job = self.prepared_job()
        rc, _, err = job.run("tail /dev/zero", timeout=120)
        self.assertEqual(rc, 1, err)
        self.assertEqual(job.exit_code_file_content().strip(), "137")
        self.assertIn("out of memory", err)

    def test_fork_bomb_is_stopped_by_the_pids_limit_and_the_job_still_cleans_up(self):
        job = self.prepared_job()
        rc, _, err = job.run("i=0; while [ $i -lt 300 ]; do sleep 60 & i=$((i+1)); done; wait", timeout=120)
        self.assertEqual(rc, 1, err)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assert_nothing_left(job)


    def test_job_cgroup_holds_the_limits_of_the_job_and_doctor_reports_it(self):
        info = docker("info", "--format", "{{.CgroupDriver}} {{.CgroupVersion}}").stdout.split()
        usable = info == ["cgroupfs", "1"]
        job = self.prepared_job()
        container = json.loads(docker("inspect", self.container(job)).stdout)[0]
        parent = f"/phaedo-docker/{job.key}"
        self.assertEqual(container["HostConfig"]["CgroupParent"], parent if usable else "")
        if usable:
            with open(f"/sys/fs/cgroup/memory{parent}/memory.limit_in_bytes") as f:
                self.assertEqual(int(f.read()), 64 << 20)
            with open(f"/sys/fs/cgroup/pids{parent}/pids.max") as f:
                self.assertEqual(f.read().strip(), "64")
        r = subprocess.run([program("phaedo-admin"), "--profile", self.profile.path, "doctor"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ok    job_cgroup: " + ("limits hold for the sum" if usable else "not available"), r.stdout)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assert_nothing_left(job)


class Cancel(DockerSandboxTest):
    def test_sigterm_stops_the_processes_in_the_container_within_5s(self):
        job = self.prepared_job()
        proc = job.start_run("echo ready; (setsid sleep 300 &); sleep 300")
        self.assertEqual(proc.stdout.readline().decode(), "ready\n")
        time.sleep(0.5)
        self.assertGreaterEqual(len(self.job_processes(job)), 2)
        t0 = time.monotonic()
        terminate_group(proc)
        proc.communicate(timeout=10)
        self.assertLess(time.monotonic() - t0, 5, "stage must exit promptly")
        self.assertEqual(self.job_processes(job), [], "processes survived the cancel")
        self.assertEqual(proc.returncode, 1)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assert_nothing_left(job)


class Isolation(DockerSandboxTest):
    def test_two_concurrent_jobs_cannot_reach_each_other(self):
        a = self.prepared_job()
        b = self.prepared_job()
        ip_b = docker_env.container_ip(self.container(b), f"phaedo-{b.key}")
        # b listens; a tries to connect.
        listener = b.start_run("nc -l -p 8080 -e echo hello-from-b")
        time.sleep(0.5)
        rc, out, err = a.run(f"if nc -w 2 {ip_b} 8080 </dev/null; then exit 9; fi; "
                             f"if ping -c 1 -W 2 {ip_b}; then exit 10; fi; echo isolated", timeout=60)
        terminate_group(listener, grace=5)
        listener.communicate()
        self.assertNotIn("hello-from-b", out)
        self.assertEqual((rc, out.strip().splitlines()[-1]), (0, "isolated"), err)
        # The same probe from inside b's own network works (the test is sound).
        rc, out, err = b.run("nc -l -p 8081 -e echo self & sleep 0.3; nc -w 2 127.0.0.1 8081 </dev/null")
        self.assertIn("self", out, err)

    def test_disallowed_image_is_refused_naming_the_rule(self):
        profile = DockerProfile(self.root, docker_extra='allowed_images = ["registry.example/ci/*"]')
        job = self.new_job(profile=profile, image="phaedo-test/busybox:1")
        rc, _, err = job.config()
        self.assertEqual(rc, 0, err)
        rc, _, err = job.prepare()
        # The job author's error: BUILD_FAILURE, so the runner does not retry it.
        self.assertEqual(rc, 1, err)
        self.assertIn("docker.allowed_images", err)
        self.assertIn("registry.example/ci/*", err)
        self.assert_nothing_left(job)

    def test_allowed_job_image_is_used(self):
        profile = DockerProfile(self.root, docker_extra='allowed_images = ["phaedo-test/*"]')
        job = self.new_job(profile=profile, image="phaedo-test/busybox:1")
        job.config()
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)

    def test_missing_image_with_pull_policy_never_fails_clearly(self):
        job = self.new_job(image="phaedo-test/absent:1")
        job.config()
        rc, _, err = job.prepare()
        self.assertEqual(rc, 2, err)
        self.assertIn("phaedo-test/absent:1", err)
        self.assertIn("not present", err)


class PrepareAndCleanup(DockerSandboxTest):
    def test_prepare_twice_is_idempotent(self):
        job = self.prepared_job()
        rc, _, err = job.run("echo x > /builds/old")
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        rc, out, err = job.run("ls /builds")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("old", out, "a retried prepare starts clean")
        self.assertEqual(len(labelled("container", job.key)), 1)
        self.assertEqual(len(labelled("network", job.key)), 1)
        self.assertEqual(len(labelled("volume", job.key)), 1)

    def test_cleanup_without_prepare_is_ok(self):
        job = self.new_job()
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)

    def test_cleanup_removes_everything_and_the_journal(self):
        job = self.prepared_job()
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assert_nothing_left(job)
        self.assertFalse(os.path.exists(self.profile.journal(job.key)))

    def test_lost_journal_backstop_by_label(self):
        job = self.prepared_job()
        shutil.rmtree(os.path.join(self.profile.state_dir, "jobs", job.key))
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assert_nothing_left(job)

    def test_unreachable_daemon_keeps_the_journal_and_fails_cleanup(self):
        job = self.prepared_job()
        DockerProfile(self.root, docker_extra=f'socket = "{self.root}/no-such.sock"')  # same file, same state
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 2, err)
        self.assertIn("no-such.sock", err)
        self.assertTrue(os.path.exists(self.profile.journal(job.key)))
        DockerProfile(self.root)  # the daemon is back
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assert_nothing_left(job)

    def test_shared_cache_volume_survives_cleanup(self):
        cache = f"phaedo-test-cache-{run_id()}"
        profile = DockerProfile(self.root, docker_extra=f'cache_volume = "{cache}"')
        try:
            job = self.new_job(profile=profile)
            job.config()
            self.assertEqual(job.prepare()[0], 0)
            rc, _, err = job.run("echo warm > /cache/layer")
            self.assertEqual(rc, 0, err)
            self.assertEqual(job.cleanup()[0], 0)
            self.assertEqual(docker("volume", "inspect", cache, check=False).returncode, 0)
        finally:
            docker("volume", "rm", cache, check=False)


class Secrets(DockerSandboxTest):
    def test_masked_values_never_reach_admin_log_or_journal(self):
        secret = "s3cr3t-value-xyz-123456"
        job = self.new_job(variables=[{"key": "API_KEY", "value": secret, "masked": True, "public": False}])
        job.config()
        self.assertEqual(job.prepare()[0], 0)
        with open(self.profile.journal(job.key)) as f:
            journal = f.read()
        rc, _, err = job.run(f'echo "$CI_JOB_TOKEN {secret}" > /dev/null; exit 3')
        self.assertEqual(rc, 1, err)
        job.cleanup()
        with open(self.profile.admin_log) as f:
            log = f.read()
        for text in (log, journal):
            self.assertNotIn(secret, text)
            self.assertNotIn(job.payload["token"], text)


if __name__ == "__main__":
    unittest.main()
