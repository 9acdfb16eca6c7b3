"""Pull policy and registry credentials of sandbox = "docker" against a real local
registry with htpasswd auth (registry_env.py), through the installed programs."""

import base64
import json
import os
import unittest

import docker_env
import registry_env
from registry_env import PASSWORD, USER
from test_docker_sandbox import DockerSandboxTest
from docker_env import DockerProfile

_REGISTRY = None


def setUpModule():
    global _REGISTRY
    docker_env.require_daemon(registry_env.problem)
    _REGISTRY = registry_env.Registry().start()


def tearDownModule():
    if _REGISTRY:
        _REGISTRY.stop()
        docker_env.remove_run_leftovers()


def read_if_present(path):
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


def auth_config(host, user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {f"http://{host}/": {"auth": token}}})


class PullTest(DockerSandboxTest):
    def setUp(self):
        super().setUp()
        self.registry = _REGISTRY
        self.registry.forget()

    def job(self, policy, variables=(), extra="", image=None, credentials=None):
        profile = DockerProfile(self.root, docker_extra=extra)
        with open(profile.path) as f:
            text = f.read().replace('pull_policy = "never"', f'pull_policy = "{policy}"')
        with open(profile.path, "w") as f:
            f.write(text)
        job = self.new_job(profile=profile, image=image or self.registry.image, variables=variables)
        if credentials is not None:
            job.payload["credentials"] = credentials
            with open(job.response_file, "w") as f:
                json.dump(job.payload, f)
        rc, _, err = job.config()
        self.assertEqual(rc, 0, err)
        return job

    def auth_variable(self, password=PASSWORD):
        return [{"key": "DOCKER_AUTH_CONFIG", "value": auth_config(self.registry.host, USER, password),
                 "public": False}]

    def assert_runs(self, job):
        rc, out, err = job.run("echo in-pulled-image")
        self.assertEqual((rc, out), (0, "in-pulled-image\n"), err)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assert_nothing_left(job)

    def admin_log(self, job):
        return read_if_present(job.profile.admin_log)

    def assert_no_secret(self, job, *texts):
        self.assertIn('"stage":"prepare"', self.admin_log(job), "the admin log was written")
        for text in (*texts, self.admin_log(job), read_if_present(job.profile.journal(job.key))):
            self.assertNotIn(PASSWORD, text)
            self.assertNotIn(base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(), text)


class PullPolicy(PullTest):
    def test_never_refuses_an_absent_image(self):
        job = self.job("never", self.auth_variable())
        rc, _, err = job.prepare()
        self.assertEqual(rc, 2, err)
        self.assertIn('pull_policy is "never"', err)
        self.assertFalse(self.registry.present())

    def test_if_not_present_pulls_once_then_uses_the_local_image(self):
        job = self.job("if-not-present", self.auth_variable())
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        self.assertIn("pulling image " + self.registry.image, err)
        self.assertTrue(self.registry.present())
        self.assert_runs(job)
        again = self.job("if-not-present")  # no credentials: must not need the registry
        rc, _, err = again.prepare()
        self.assertEqual(rc, 0, err)
        self.assertNotIn("pulling image", err)
        self.assert_runs(again)

    def test_always_pulls_even_when_present(self):
        docker_env.docker("tag", docker_env.IMAGE, self.registry.image)
        job = self.job("always")  # present, but no credentials: the pull must fail
        rc, _, err = job.prepare()
        self.assertEqual(rc, 2, err)
        self.assertIn(f"from registry {self.registry.host} without credentials", err)
        job = self.job("always", self.auth_variable())
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        self.assertIn("pulling image", err)
        self.assert_runs(job)


class Credentials(PullTest):
    def test_wrong_password_names_the_registry_and_leaks_nothing(self):
        wrong = "Wrong-pa55word-0815"
        job = self.job("if-not-present", self.auth_variable(password=wrong))
        rc, _, err = job.prepare()
        self.assertEqual(rc, 2, err)
        self.assertIn(f"registry {self.registry.host} with credentials from the job variable DOCKER_AUTH_CONFIG", err)
        self.assertIn("unauthorized", err.lower())
        self.assertEqual(len([l for l in err.splitlines() if "phaedo: error:" in l]), 1, err)
        self.assert_no_secret(job, err)
        self.assertNotIn(wrong, err + self.admin_log(job))

    def test_job_payload_registry_credentials(self):
        job = self.job("if-not-present", credentials=[
            {"type": "registry", "url": self.registry.host, "username": USER, "password": PASSWORD}])
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        self.assertIn("credentials from the job's registry credentials", err)
        self.assert_no_secret(job, err)
        self.assert_runs(job)

    def test_profile_auth_config_file(self):
        path = os.path.join(self.root, "docker-config.json")
        with open(path, "w") as f:
            f.write(auth_config(self.registry.host, USER, PASSWORD))
        os.chmod(path, 0o600)
        job = self.job("if-not-present", extra=f'auth_config = "{path}"')
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        self.assertIn(f"credentials from docker.auth_config {path}", err)
        self.assert_no_secret(job, err)
        self.assert_runs(job)

    def test_docker_auth_config_wins_over_the_profile(self):
        path = os.path.join(self.root, "docker-config.json")
        with open(path, "w") as f:
            f.write(auth_config(self.registry.host, USER, "not-the-password"))
        job = self.job("if-not-present", self.auth_variable(), extra=f'auth_config = "{path}"')
        rc, _, err = job.prepare()
        self.assertEqual(rc, 0, err)
        self.assertIn("DOCKER_AUTH_CONFIG", err)


class ResolvedName(PullTest):
    def test_policy_judges_the_name_after_variable_expansion(self):
        rules = 'allowed_images = ["127.0.0.1:*/phaedo/*"]'
        good = self.job("if-not-present",
                        [*self.auth_variable(), {"key": "REG", "value": self.registry.host, "public": True}],
                        extra=rules, image="${REG}/phaedo/busybox:1")
        rc, _, err = good.prepare()
        self.assertEqual(rc, 0, err)
        self.assert_runs(good)
        bad = self.job("if-not-present", [{"key": "EVIL", "value": "evil/miner:1", "public": True}],
                       extra=rules, image="$EVIL")
        rc, _, err = bad.prepare()
        self.assertEqual(rc, 1, err)
        self.assertIn('image "evil/miner:1" is not allowed', err)


if __name__ == "__main__":
    unittest.main()
