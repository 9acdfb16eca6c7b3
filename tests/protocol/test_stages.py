"""Protocol rules of the custom executor, each proven against the installed stage
programs called the way gitlab-runner calls them (runner_emulator.py)."""

import json
import os
import shutil
import signal
import stat
import tempfile
import threading
import time
import unittest

from runner_emulator import Job, Profile, job_payload, pid_alive, terminate_group, wait_for_file

IN_CI = os.environ.get("CI") == "true"
CGROUP_PARENT = "/sys/fs/cgroup/pids"


def cgroups_usable():
    return os.access(os.path.join(CGROUP_PARENT, "cgroup.procs"), os.W_OK)


class StageTest(unittest.TestCase):
    next_job_id = 1000

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="phaedo-proto-")
        self.profile = Profile(self.root)
        self.jobs = []

    def tearDown(self):
        for job in self.jobs:
            job.cleanup()
            job.remove()
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            os.rmdir(self.profile.cgroup_root)
        except OSError:
            pass

    def new_job(self, **kw):
        StageTest.next_job_id += 1
        variables = kw.pop("variables", ())
        payload = kw.pop("payload", None) or job_payload(StageTest.next_job_id, variables=variables)
        job = Job(kw.pop("profile", self.profile), payload, **kw)
        self.jobs.append(job)
        return job

    def prepared_job(self, **kw):
        job = self.new_job(**kw)
        rc, _, err = job.config()
        self.assertEqual(rc, 0, err)
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        return job

    def assert_one_line_error(self, rc, err, *needles):
        self.assertEqual(rc, 2, f"expected SYSTEM_FAILURE_EXIT_CODE, stderr: {err}")
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, f"expected one line, got: {lines}")
        self.assertTrue(lines[0].startswith("phaedo: error: "), lines[0])
        for needle in needles:
            self.assertIn(needle, lines[0])


class ConfigStage(StageTest):
    def test_prints_exactly_one_json_object_and_logs_only_to_stderr(self):
        job = self.new_job()
        rc, out, err = job.config()
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.count("\n"), 1, "one line of JSON, nothing else")
        cfg = json.loads(out)
        self.assertEqual(set(cfg), {"builds_dir", "cache_dir", "builds_dir_is_shared", "hostname", "driver",
                                    "job_env", "shell"})
        self.assertEqual(cfg["builds_dir"], os.path.join(self.profile.job_dir(job.key), "builds"))
        self.assertTrue(cfg["cache_dir"])
        self.assertIs(cfg["builds_dir_is_shared"], False)
        self.assertEqual(cfg["driver"]["name"], "phaedo-executor")
        self.assertRegex(cfg["driver"]["version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(cfg["shell"], "bash")
        self.assertEqual(cfg["job_env"]["PHAEDO_JOB_KEY"], job.key)

    def test_builds_dirs_differ_per_job(self):
        dirs = {json.loads(self.new_job().config()[1])["builds_dir"] for _ in range(3)}
        self.assertEqual(len(dirs), 3)

    def test_identity_comes_from_the_job_payload_not_user_variables(self):
        job = self.new_job()
        job.base_env["CUSTOM_ENV_CI_JOB_ID"] = "1"  # a job author's override
        job.payload["variables"].append({"key": "CI_JOB_ID", "value": "1"})
        rc, out, err = job.config()
        self.assertEqual(rc, 0, err)
        self.assertIn(f"-j{job.payload['id']}/", json.loads(out)["builds_dir"])

    def test_broken_profile_is_a_one_line_system_failure_naming_the_field(self):
        with open(self.profile.path, "a") as f:
            f.write('\nshel = "bash"\n')
        job = self.new_job()
        rc, out, err = job.config()
        self.assertEqual(out, "", "nothing on stdout when failing")
        self.assert_one_line_error(rc, err, "host.shel", "unknown key")

    def test_bad_enum_value_names_the_value_and_the_choices(self):
        profile = Profile(self.root, extra='shell = "zsh"')
        rc, _, err = self.new_job(profile=profile).config()
        self.assert_one_line_error(rc, err, "shell", '"zsh"', "bash, sh")

    def test_toml_syntax_error_names_the_line(self):
        with open(self.profile.path, "a") as f:
            f.write("\n[host\n")
        rc, _, err = self.new_job().config()
        self.assert_one_line_error(rc, err, self.profile.path, "line")

    def test_missing_profile_file(self):
        os.unlink(self.profile.path)
        rc, _, err = self.new_job().config()
        self.assert_one_line_error(rc, err, self.profile.path)

    def test_missing_job_response_file(self):
        job = self.new_job()
        os.unlink(job.response_file)
        rc, _, err = job.config()
        self.assert_one_line_error(rc, err, "JOB_RESPONSE_FILE")

    def test_malformed_job_response_names_the_field(self):
        job = self.new_job()
        with open(job.response_file, "w") as f:
            json.dump({"id": "seven"}, f)
        rc, _, err = job.config()
        self.assert_one_line_error(rc, err, "id")
        with open(job.response_file, "w") as f:
            f.write("{not json")
        rc, _, err = job.config()
        self.assert_one_line_error(rc, err, "not valid JSON")


class CommandLine(StageTest):
    def test_help_and_version(self):
        job = self.new_job()
        for name in ("phaedo-config", "phaedo-prepare", "phaedo-run", "phaedo-cleanup"):
            import subprocess
            from runner_emulator import program
            r = subprocess.run([program(name), "--version"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"phaedo-executor\) \d+\.\d+\.\d+")
            r = subprocess.run([program(name), "--help"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0)
            self.assertIn("--profile", r.stdout)
        del job

    def test_usage_errors_are_system_failures(self):
        import subprocess
        from runner_emulator import program
        for argv in ([program("phaedo-prepare")], [program("phaedo-run"), "--profile", self.profile.path],
                     [program("phaedo-config"), "--profile", self.profile.path, "--bogus"]):
            r = subprocess.run(argv, capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, argv)
            self.assertTrue(r.stderr.startswith("phaedo: error: "), r.stderr)


class RunStage(StageTest):
    def test_success_runs_in_the_job_directory(self):
        job = self.prepared_job()
        rc, out, err = job.run('echo "cwd=$PWD tmp=$TMPDIR"')
        self.assertEqual(rc, 0, err)
        jd = self.profile.job_dir(job.key)
        self.assertIn(f"cwd={jd} tmp={jd}/tmp", out)

    def test_script_failure_reports_the_real_exit_code(self):
        job = self.prepared_job()
        rc, out, _ = job.run("echo before; exit 7")
        self.assertEqual(rc, 1, "BUILD_FAILURE_EXIT_CODE")
        self.assertIn("before", out)
        self.assertEqual(job.exit_code_file_content(), "7\n")

    def test_exit_code_file_is_truncated_at_each_run(self):
        job = self.prepared_job()
        self.assertEqual(job.run("exit 42")[0], 1)
        self.assertEqual(job.exit_code_file_content(), "42\n")
        self.assertEqual(job.run("true", stage="after_script")[0], 0)
        self.assertEqual(job.exit_code_file_content(), "", "a stale 42 must not be re-reported")

    def test_no_exit_code_file_for_older_runners(self):
        job = self.prepared_job(exit_code_file=False)
        rc, _, _ = job.run("exit 3")
        self.assertEqual(rc, 1)
        self.assertEqual(os.listdir(job.tmp).count("build_exit_code"), 0)

    def test_script_killed_by_a_signal_is_still_a_build_failure(self):
        job = self.prepared_job()
        rc, _, _ = job.run("kill -KILL $$")
        self.assertEqual(rc, 1)
        self.assertEqual(job.exit_code_file_content(), "137\n")

    def test_any_sub_stage_name_runs_the_script(self):
        job = self.prepared_job()
        for stage in ("prepare_script", "get_sources", "clear_worktree", "build_script", "step_script",
                      "step_release", "after_script", "cleanup_file_variables", "a_stage_not_invented_yet"):
            rc, out, err = job.run(f"echo ran {stage}", stage=stage)
            self.assertEqual(rc, 0, f"{stage}: {err}")
            self.assertIn(f"ran {stage}", out)

    def test_sh_shell(self):
        profile = Profile(self.root, extra='shell = "sh"')
        job = self.prepared_job(profile=profile)
        rc, out, err = job.call("phaedo-run", job.write_script('echo "$0"', shell="sh"), "build_script")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.strip(), r"/script$")
        self.assertEqual(json.loads(job.config()[1])["shell"], "sh")

    def test_output_is_streamed_not_buffered(self):
        job = self.prepared_job()
        p = job.start_run("echo first; sleep 3; echo second")
        t0 = time.monotonic()
        line = p.stdout.readline().decode()
        elapsed = time.monotonic() - t0
        self.assertEqual(line.strip(), "first")
        self.assertLess(elapsed, 2.5, "the first line must arrive while the script still runs")
        p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0)

    def test_job_variables_and_payload_are_not_handed_to_the_script(self):
        job = self.prepared_job(variables=[{"key": "MY_SECRET", "value": "very-secret-1", "masked": True}])
        rc, out, err = job.run("env")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("CUSTOM_ENV_", out)
        self.assertNotIn("JOB_RESPONSE_FILE", out)
        self.assertNotIn("very-secret-1", out)

    def test_run_without_prepare_is_a_system_failure(self):
        job = self.new_job()
        rc, _, err = job.run("true")
        self.assert_one_line_error(rc, err, "not prepared")

    def test_processes_left_behind_are_stopped_when_the_script_ends(self):
        job = self.prepared_job()
        pidfile = os.path.join(job.tmp, "bg.pid")
        rc, _, err = job.run(f"(setsid sleep 300 >/dev/null 2>&1 & echo $! > {pidfile})")
        self.assertEqual(rc, 0, err)
        with open(pidfile) as f:
            pid = int(f.read())
        self.assertFalse(pid_alive(pid), "a daemonised leftover must not survive its sub-stage")


class Cancel(StageTest):
    def start_tree(self, job):
        """A script that leaves a foreground sleep, a background child and a setsid'd
        double-forked daemon; their pids go to a file."""
        pids = os.path.join(job.tmp, "pids")
        body = (f"sleep 300 & echo $! >> {pids}\n"
                f"setsid sh -c 'sleep 300 & echo $! >> {pids}; exec sleep 300' >/dev/null 2>&1 &\n"
                f"sleep 0.3; echo started; sleep 300")
        p = job.start_run(body)
        self.assertEqual(p.stdout.readline().decode().strip(), "started")
        self.assertTrue(wait_for_file(pids))
        time.sleep(0.2)
        with open(pids) as f:
            tree = [int(x) for x in f.read().split()]
        self.assertEqual(len(tree), 2)
        for pid in tree:
            self.assertTrue(pid_alive(pid))
        return p, tree

    def check_cancel(self):
        job = self.prepared_job()
        p, tree = self.start_tree(job)
        t0 = time.monotonic()
        terminate_group(p)
        p.communicate(timeout=10)
        elapsed = time.monotonic() - t0
        self.assertLess(elapsed, 5.0, "SIGTERM must stop the job within 5 s")
        self.assertIn(p.returncode, (1, 2))
        for pid in tree:
            self.assertFalse(pid_alive(pid), f"pid {pid} survived the cancel")
        return job

    def test_sigterm_stops_the_whole_tree_including_daemons(self):
        if IN_CI and not cgroups_usable():
            self.fail("CI=true but the cgroup v1 pids hierarchy is not writable")
        self.check_cancel()

    def test_sigterm_without_cgroups_uses_the_subreaper(self):
        self.profile = Profile(self.root, host_extra='cgroup = "off"')
        self.check_cancel()

    def test_cleanup_kills_what_a_sigkilled_run_stage_left(self):
        if not cgroups_usable():
            if IN_CI:
                self.fail("CI=true but the cgroup v1 pids hierarchy is not writable")
            self.skipTest("needs a writable cgroup v1 pids hierarchy")
        job = self.prepared_job()
        p, tree = self.start_tree(job)
        os.killpg(p.pid, signal.SIGKILL)  # the runner's force kill: our handler never runs
        p.wait(timeout=10)
        p.stdout.close()  # the orphans still hold the other end
        p.stderr.close()
        self.assertTrue(any(pid_alive(pid) for pid in tree), "precondition: orphans still running")
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        for pid in tree:
            self.assertFalse(pid_alive(pid), f"pid {pid} survived cleanup")
        self.assertFalse(os.path.exists(os.path.join(self.profile.cgroup_root, job.key)))


class PrepareAndCleanup(StageTest):
    def test_prepare_is_idempotent(self):
        job = self.prepared_job()
        marker = os.path.join(self.profile.job_dir(job.key), "builds", "leftover")
        open(marker, "w").close()
        for _ in range(2):
            rc, _, err = job.prepare()
            self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(marker), "a retried prepare starts from a clean job directory")
        self.assertEqual(job.run("true")[0], 0)

    def test_runner_retry_sequence_prepare_cleanup_prepare(self):
        job = self.prepared_job()
        self.assertEqual(job.cleanup()[0], 0)
        self.assertEqual(job.prepare()[0], 0)
        self.assertEqual(job.run("echo ok")[0], 0)

    def test_journal_is_written_before_and_removed_after(self):
        job = self.prepared_job()
        with open(self.profile.journal(job.key)) as f:
            journal = json.load(f)
        kinds = {r["kind"]: r["phase"] for r in journal["records"]}
        self.assertEqual(kinds.get("workdir"), "created")
        if cgroups_usable():
            self.assertEqual(kinds.get("cgroup"), "created")
        mode = stat.S_IMODE(os.stat(self.profile.journal(job.key)).st_mode)
        self.assertEqual(mode, 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.profile.job_dir(job.key)).st_mode), 0o700)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(os.path.dirname(self.profile.journal(job.key))))
        self.assertFalse(os.path.exists(self.profile.job_dir(job.key)))

    def test_cleanup_without_prepare(self):
        job = self.new_job()
        for _ in range(2):
            rc, _, err = job.cleanup()
            self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(os.path.dirname(self.profile.journal(job.key))))

    def test_cleanup_of_half_created_state(self):
        # The journal says "intended" (prepare died before creating anything) ...
        job = self.new_job()
        jdir = os.path.dirname(self.profile.journal(job.key))
        os.makedirs(jdir)
        with open(self.profile.journal(job.key), "w") as f:
            json.dump({"version": 1, "key": job.key, "job_id": job.payload["id"], "records": [
                {"kind": "workdir", "id": self.profile.job_dir(job.key), "phase": "intended", "attrs": {}},
                {"kind": "cgroup", "id": os.path.join(self.profile.cgroup_root, job.key), "phase": "intended",
                 "attrs": {}}]}, f)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(jdir))

    def test_cleanup_finds_a_job_directory_whose_journal_was_lost(self):
        job = self.prepared_job()
        shutil.rmtree(os.path.dirname(self.profile.journal(job.key)))
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(self.profile.job_dir(job.key)))

    def test_cleanup_refuses_a_journal_pointing_outside_the_job(self):
        victim = os.path.join(self.root, "victim")
        os.makedirs(victim)
        job = self.new_job()
        os.makedirs(os.path.dirname(self.profile.journal(job.key)))
        with open(self.profile.journal(job.key), "w") as f:
            json.dump({"version": 1, "key": job.key, "job_id": job.payload["id"], "records": [
                {"kind": "workdir", "id": victim, "phase": "created", "attrs": {}}]}, f)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 2)
        self.assertIn("foreign", err)
        self.assertTrue(os.path.isdir(victim), "cleanup must never delete outside the job's own directory")
        self.assertTrue(os.path.exists(self.profile.journal(job.key)), "what could not be removed stays journaled")
        os.unlink(self.profile.journal(job.key))

    def test_corrupt_journal_is_reported_not_crashed_on(self):
        job = self.prepared_job()
        with open(self.profile.journal(job.key), "w") as f:
            f.write("{garbage")
        rc, _, err = job.cleanup()
        self.assert_one_line_error(rc, err, "journal", "corrupt")
        os.unlink(self.profile.journal(job.key))

    def test_concurrent_jobs_do_not_collide(self):
        jobs = [self.new_job() for _ in range(4)]
        results = {}

        def lifecycle(job):
            steps = [job.config(), job.prepare(),
                     job.run(f"echo {job.key} > mine; sleep 0.5; cat mine"), job.cleanup()]
            results[job.key] = steps

        threads = [threading.Thread(target=lifecycle, args=(j,)) for j in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 4)
        builds = set()
        for key, steps in results.items():
            for rc, _, err in steps:
                self.assertEqual(rc, 0, f"{key}: {err}")
            self.assertEqual(steps[2][1].strip(), key)
            builds.add(json.loads(steps[0][1])["builds_dir"])
        self.assertEqual(len(builds), 4)
        self.assertEqual(os.listdir(os.path.join(self.root, "work")), [])


class Secrets(StageTest):
    def test_secrets_never_reach_the_admin_log_or_the_journal(self):
        secret = "s3cr3t-value-42"
        job = self.prepared_job(variables=[{"key": "MY_SECRET", "value": secret, "masked": True},
                                           {"key": "REG_PASS", "value": "glpat-abcdefghij1234567890"}])
        token = job.payload["token"]
        # A user-defined step name is part of the sub-stage name the driver logs.
        rc, _, err = job.run("exit 3", stage=f"step_{secret}")
        self.assertEqual(rc, 1, err)
        with open(self.profile.journal(job.key)) as f:
            journal_text = f.read()
        self.assertEqual(job.cleanup()[0], 0)
        with open(self.profile.admin_log) as f:
            log_text = f.read()
        self.assertIn("[MASKED]", log_text, "the step name was logged, masked")
        for s in (secret, token, "glpat-abcdefghij1234567890"):
            self.assertNotIn(s, log_text)
            self.assertNotIn(s, journal_text)
        for line in log_text.splitlines():
            record = json.loads(line)
            self.assertTrue({"time", "level", "stage", "msg"} <= set(record))
        self.assertEqual(stat.S_IMODE(os.stat(self.profile.admin_log).st_mode), 0o600)


if __name__ == "__main__":
    unittest.main()
