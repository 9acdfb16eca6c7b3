"""Cleanup of sandbox = "docker" while the daemon is unreachable for a while: the
profile's docker.socket is a relay (docker_relay.py) that goes away for 5 s at the
first removal request of cleanup, the way a daemon restart looks to a client."""

import os
import time
import unittest

import docker_env
from docker_env import DockerProfile
from docker_relay import DockerRelay
from test_docker_sandbox import DockerSandboxTest

OUTAGE_SECONDS = 5
setUpModule = docker_env.require_daemon
tearDownModule = docker_env.remove_run_leftovers


class DaemonOutage(DockerSandboxTest):
    def setUp(self):
        super().setUp()
        self.relay = DockerRelay(os.path.join(self.root, "docker.sock")).start()
        self.profile = DockerProfile(self.root, docker_extra=f'socket = "{self.relay.path}"')

    def tearDown(self):
        super().tearDown()  # its cleanups still go through the relay
        self.relay.stop()

    def test_cleanup_retries_through_an_outage_and_removes_everything(self):
        job = self.prepared_job()
        rc, out, err = job.run("echo up")
        self.assertEqual((rc, out), (0, "up\n"), err)
        self.relay.outage_on(b"DELETE ", OUTAGE_SECONDS)
        t0 = time.monotonic()
        rc, _, err = job.cleanup()
        seconds = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.relay.outages), 1, "the outage happened during cleanup")
        self.assertGreaterEqual(seconds, OUTAGE_SECONDS - 0.5, "cleanup waited the outage out")
        self.assertLess(seconds, OUTAGE_SECONDS + 10, "and finished soon after the daemon came back")
        self.assertFalse(os.path.exists(job.profile.journal(job.key)), "journal erased")
        self.assert_nothing_left(job)
        print(f"cleanup through a {OUTAGE_SECONDS} s outage took {seconds:.2f} s")

    def test_cleanup_starts_while_the_daemon_is_away(self):
        job = self.prepared_job()
        self.relay.outage_on(b"GET /_ping", 3)
        rc, _, err = job.cleanup()
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(self.relay.outages), 1)
        self.assert_nothing_left(job)


if __name__ == "__main__":
    unittest.main()
