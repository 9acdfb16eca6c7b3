"""Unit tests of the fake GitLab over plain HTTP (no runner, no Go: always runs).

They pin the details the real runner depends on (status codes, headers, Content-Range
rules, chunked multipart uploads), so a change to the fake fails fast here before it
shows up as a confusing real-runner failure in test_fake_gitlab_selftest.py.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tomllib
import unittest
import urllib.parse
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from fake_gitlab import FakeGitLab  # noqa: E402
from job_payload import JOBS_DIR, build_job_payload, load_fixture  # noqa: E402


class Client:
    """Tiny HTTP client speaking to one fake."""

    def __init__(self, fake: FakeGitLab):
        parts = urllib.parse.urlsplit(fake.url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)

    def call(self, method: str, path: str, body=None, headers=None, chunked=False):
        self.conn.request(method, "/api/v4" + path, body=body, headers=headers or {},
                          encode_chunked=chunked)
        response = self.conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    def request_job(self, token: str):
        body = json.dumps({"token": token, "info": {"name": "gitlab-runner"}})
        return self.call("POST", "/jobs/request", body,
                         {"Content-Type": "application/json", "RUNNER-TOKEN": token})

    def patch(self, job, start: int, data: bytes):
        headers = {"JOB-TOKEN": job.token, "Content-Type": "text/plain",
                   "Content-Range": f"{start}-{start + len(data) - 1}"}
        return self.call("PATCH", f"/jobs/{job.id}/trace?debug_trace=false", data, headers)

    def put(self, job, state: str, **extra):
        body = json.dumps({"token": job.token, "state": state, **extra})
        return self.call("PUT", f"/jobs/{job.id}", body,
                         {"JOB-TOKEN": job.token, "Content-Type": "application/json"})


class FakeGitLabTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeGitLab().start()
        self.addCleanup(self.fake.stop)
        self.client = Client(self.fake)
        self.addCleanup(self.client.conn.close)

    def dispatch(self, fixture="success_echo.json", **kwargs):
        job = self.fake.enqueue(fixture, **kwargs)
        status, headers, body = self.client.request_job(self.fake.runner_token)
        self.assertEqual(status, 201)
        return job, headers, json.loads(body)

    def test_request_gives_201_json_then_204(self):
        job, headers, payload = self.dispatch()
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(payload["id"], job.id)
        status, _, _ = self.client.request_job(self.fake.runner_token)
        self.assertEqual(status, 204)

    def test_wrong_runner_token_is_204_never_403(self):
        self.fake.enqueue("success_echo.json")
        status, _, _ = self.client.request_job("wrong")
        self.assertEqual(status, 204)
        self.assertEqual(self.fake.pending(), 1)
        self.assertEqual(len(self.fake.errors), 1)

    def test_trace_is_append_only_with_range_checks(self):
        job, _, _ = self.dispatch()
        status, headers, _ = self.client.patch(job, 0, b"hello ")
        self.assertEqual((status, headers["Range"]), (202, "0-6"))
        self.assertEqual(headers["Job-Status"], "running")
        self.assertEqual(headers["X-GitLab-Trace-Update-Interval"], "1")
        status, headers, _ = self.client.patch(job, 3, b"lo world")  # overlaps: rejected
        self.assertEqual((status, headers["Range"]), (416, "0-6"))
        status, _, _ = self.client.patch(job, 6, b"world")
        self.assertEqual(status, 202)
        self.assertEqual(job.trace_text, "hello world")

    def test_final_update_is_recorded_and_checksum_checked(self):
        job, _, _ = self.dispatch()
        self.client.put(job, "running")
        self.client.patch(job, 0, b"some log\n")
        crc = f"crc32:{zlib.crc32(b'some log' + bytes([10])):08x}"
        status, headers, _ = self.client.put(
            job, "failed", failure_reason="script_failure", exit_code=7,
            output={"checksum": crc, "bytesize": 9})
        self.assertEqual(status, 200)
        final = job.wait_final(1)
        self.assertEqual((final.state, final.failure_reason, final.exit_code, final.checksum_ok),
                         ("failed", "script_failure", 7, True))
        self.assertEqual(job.transitions, ["running", "failed"])

    def test_cancel_on_trace_marker(self):
        job, _, _ = self.dispatch(cancel_on_trace="MARK", cancel_mode="canceling")
        _, headers, _ = self.client.patch(job, 0, b"before ")
        self.assertEqual(headers["Job-Status"], "running")
        _, headers, _ = self.client.patch(job, 7, b"MARK")
        self.assertEqual(headers["Job-Status"], "canceling")
        _, headers, _ = self.client.put(job, "running")
        self.assertEqual(headers["Job-Status"], "canceling")

    def test_hard_cancel_accepts_the_runners_consistent_resend(self):
        job, _, _ = self.dispatch()
        self.client.patch(job, 0, b"abc")
        job.cancel("canceled")
        status, headers, _ = self.client.patch(job, 3, b"def")
        self.assertEqual((status, headers["Job-Status"]), (202, "canceled"))
        status, _, _ = self.client.patch(job, 3, b"defghi")  # final flush from old offset
        self.assertEqual(status, 202)
        self.assertEqual(job.trace_text, "abcdefghi")
        status, _, _ = self.client.patch(job, 0, b"XYZ")  # inconsistent: still refused
        self.assertEqual(status, 416)

    def test_wrong_job_token_is_403(self):
        job, _, _ = self.dispatch()
        status, _, _ = self.client.call("PATCH", f"/jobs/{job.id}/trace", b"x",
                                        {"JOB-TOKEN": "nope", "Content-Range": "0-0"})
        self.assertEqual(status, 403)

    def test_chunked_multipart_artifact_upload_and_download(self):
        job, _, _ = self.dispatch()
        boundary = "b0undary"
        data = bytes(range(256)) + b"\r\n--not-a-boundary\r\n"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"result.zip\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        chunks = iter([body[:100], body[100:]])
        status, _, _ = self.client.call(
            "POST", f"/jobs/{job.id}/artifacts?artifact_format=zip&artifact_type=archive",
            chunks, {"JOB-TOKEN": job.token,
                     "Content-Type": f"multipart/form-data; boundary={boundary}"},
            chunked=True)
        self.assertEqual(status, 201)
        self.assertEqual(job.artifacts[0].filename, "result.zip")
        self.assertEqual(job.artifacts[0].data, data)
        self.assertEqual(job.artifacts[0].query["artifact_type"], "archive")
        status, _, got = self.client.call("GET", f"/jobs/{job.id}/artifacts", None,
                                          {"JOB-TOKEN": job.token})
        self.assertEqual((status, got), (200, data))

    def test_payload_defaults_and_variable_override(self):
        fixture = {"variables": [{"key": "GIT_STRATEGY", "value": "fetch"}],
                   "steps": [{"name": "script", "script": ["true"]},
                             {"name": "after_script", "script": ["true"]}],
                   "runner_info": {"timeout": 30}, "_fake": {"cancel_on_trace": "x"}}
        payload = build_job_payload(fixture, 5, "http://127.0.0.1:1")
        variables = {v["key"]: v for v in payload["variables"]}
        self.assertEqual(variables["GIT_STRATEGY"]["value"], "fetch")
        self.assertTrue(variables["CI_JOB_TOKEN"]["masked"])
        self.assertEqual(variables["CI_JOB_TOKEN"]["value"], payload["token"])
        self.assertEqual(variables["CI_SERVER_URL"]["value"], "http://127.0.0.1:1")
        self.assertEqual([s["when"] for s in payload["steps"]], ["on_success", "always"])
        self.assertEqual(payload["steps"][0]["timeout"], 30)
        self.assertNotIn("_fake", payload)
        self.assertTrue(payload["features"]["trace_sections"])

    def test_every_fixture_loads(self):
        for path in sorted(JOBS_DIR.glob("*.json")):
            with self.subTest(fixture=path.name):
                payload = build_job_payload(load_fixture(path.name), 1, "http://h:1")
                self.assertTrue(payload["steps"])


class HarnessConfigTest(unittest.TestCase):
    """The harness side that needs no runner binary: config.toml and the environment."""

    def test_config_toml(self):
        executor = harness.CustomExecutor.stage_programs(
            config="/opt/c", prepare=None, run="/opt/r", cleanup="/opt/x",
            args=["--profile", "/etc/p \"q\".toml"])
        with FakeGitLab() as fake:
            runner = harness.RunnerProcess(fake, executor, binary="/bin/true", mode="run",
                                           concurrent=3, environment=["A=1"],
                                           runner_settings={"output_limit": 64})
            self.addCleanup(runner.close)
            config = tomllib.loads(runner.config_toml())
        self.assertEqual(config["concurrent"], 3)
        entry = config["runners"][0]
        self.assertEqual((entry["url"], entry["executor"], entry["limit"]),
                         (fake.url, "custom", 3))
        self.assertEqual((entry["environment"], entry["output_limit"]), (["A=1"], 64))
        self.assertIs(entry["feature_flags"]["FF_TIMESTAMPS"], False)
        custom = entry["custom"]
        self.assertEqual(custom["run_args"], ["--profile", '/etc/p "q".toml'])
        self.assertNotIn("prepare_exec", custom)
        self.assertEqual(custom["graceful_kill_timeout"], 30)

    def test_clean_environment_strips_runner_configuration(self):
        os.environ.update({"CI_SERVER_URL": "x", "RUNNER_EXECUTOR": "x", "CUSTOM_RUN_EXEC": "x",
                           "CONFIG_FILE": "x", "PHAEDO_KEEP": "y"})
        self.addCleanup(lambda: [os.environ.pop(k) for k in
                                 ("CI_SERVER_URL", "RUNNER_EXECUTOR", "CUSTOM_RUN_EXEC",
                                  "CONFIG_FILE", "PHAEDO_KEEP")])
        env = harness.clean_environment({"EXTRA": "1"})
        self.assertFalse({"CI_SERVER_URL", "RUNNER_EXECUTOR", "CUSTOM_RUN_EXEC",
                          "CONFIG_FILE"} & env.keys())
        self.assertEqual((env["PHAEDO_KEEP"], env["EXTRA"]), ("y", "1"))


if __name__ == "__main__":
    unittest.main()
