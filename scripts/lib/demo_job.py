"""The demo: one sample job through the real gitlab-runner, the fake GitLab and the
installed phaedo-* programs with runner-config/local.toml, printed as GitLab shows it.

Usage: demo_job.py BIN_DIR PROFILE   (scripts/demo passes both)
"""

import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "runner"))

import harness  # noqa: E402
from fake_gitlab import FakeGitLab  # noqa: E402

# A job shaped like the Phaedo build: a main script, an extra step, an after_script.
SAMPLE_JOB = {
    "job_info": {"name": "build-deviceplugin-and-webhook", "stage": "build-images"},
    "variables": [{"key": "IMAGE_TAG", "value": "alpha", "public": True},
                  {"key": "REGISTRY_PASSWORD", "value": "demo-secret-password", "masked": True}],
    "steps": [
        {"name": "script", "script": [
            'echo "building device plugin and webhook (tag $IMAGE_TAG) in $PWD"',
            'echo "registry password is $REGISTRY_PASSWORD"',
            "uname -sr",
            "for part in device-plugin webhook; do echo \"  compiled $part\"; sleep 0.2; done"]},
        {"name": "release", "script": ['echo "release step: would push images tagged $IMAGE_TAG"']},
        {"name": "after_script", "script": ['echo "after_script: job status is $CI_JOB_STATUS"']},
    ],
}

SECTION = re.compile(r"section_(start|end):\d+:([a-z0-9_]+)(\[[^\]]*\])?\r\x1b\[0K")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def render(trace: str) -> str:
    """Section markers become headers, as GitLab's collapsible sections would show."""
    def header(m):
        return f"\n--- {m.group(2)} ---\n" if m.group(1) == "start" else ""
    text = ANSI.sub("", SECTION.sub(header, trace))
    return "\n".join(l.rstrip("\r") for l in text.splitlines() if l.strip())


def main() -> int:
    bin_dir, profile = Path(sys.argv[1]), Path(sys.argv[2])
    executor = harness.example_executor("phaedo-local", bin_dir, profile)
    with FakeGitLab() as fake:
        job = fake.enqueue(SAMPLE_JOB)
        with harness.RunnerProcess(fake, executor, binary=harness.runner_binary()) as runner:
            final = runner.wait_job(job, timeout=120)
    print(render(job.trace_text))
    print()
    summary = f"job {job.id}: {final.state}"
    if final.failure_reason:
        summary += f" ({final.failure_reason}, exit code {final.exit_code})"
    print(summary)
    return 0 if final.state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
