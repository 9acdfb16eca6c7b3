"""Job payloads for the fake GitLab: fixtures plus what GitLab would also send.

A fixture (tests/runner/jobs/*.json) is the 201 body of POST /jobs/request
(custom-executor-protocol.md §11.4) minus everything a test does not care about; the
functions here fill that in.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.parse
from pathlib import Path

JOBS_DIR = Path(__file__).resolve().parent / "jobs"

# What GitLab lists in features.failure_reasons; anything else the runner would report
# is mapped to unknown_failure by the runner itself (common/failure_reason_mapper.go).
DEFAULT_FAILURE_REASONS = [
    "script_failure",
    "runner_system_failure",
    "job_execution_timeout",
    "unknown_failure",
    "runner_configuration_error",
    "job_canceled",
]


def load_fixture(fixture: str | Path | dict) -> dict:
    """A fixture as a dict: a dict as is, a bare name from tests/runner/jobs/, or a path."""
    if isinstance(fixture, dict):
        return copy.deepcopy(fixture)
    path = Path(fixture)
    if not path.exists() and not path.is_absolute():
        path = JOBS_DIR / path
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _variable(key: str, value: str, *, public: bool = True, masked: bool = False,
              file: bool = False, raw: bool = False) -> dict:
    return {"key": key, "value": value, "public": public, "masked": masked,
            "file": file, "raw": raw}


def _default_variables(job_id: int, token: str, server_url: str, job_info: dict) -> list:
    host = urllib.parse.urlsplit(server_url).hostname or "127.0.0.1"
    path = job_info["project_full_path"]
    return [
        _variable("CI_JOB_ID", str(job_id)),
        _variable("CI_JOB_NAME", job_info["name"]),
        _variable("CI_JOB_STAGE", job_info["stage"]),
        _variable("CI_JOB_TOKEN", token, public=False, masked=True),
        _variable("CI_RUNNER_ID", "42"),
        _variable("CI_PIPELINE_ID", str(job_info["pipeline_id"])),
        _variable("CI_PROJECT_ID", str(job_info["project_id"])),
        _variable("CI_PROJECT_NAME", job_info["project_name"]),
        _variable("CI_PROJECT_PATH", path),
        _variable("CI_PROJECT_PATH_SLUG", re.sub(r"[^a-z0-9]", "-", path.lower())),
        _variable("CI_SERVER_URL", server_url),
        _variable("CI_SERVER_HOST", host),
        # No git server here: the runner only creates the project directory.
        _variable("GIT_STRATEGY", "none"),
    ]


def _merge_variables(defaults: list, overrides: list) -> list:
    """Defaults first, fixture variables override by key (GitLab's precedence)."""
    merged = {v["key"]: v for v in defaults}
    for v in overrides:
        merged[v["key"]] = {**_variable(v["key"], ""), **v}
    return list(merged.values())


def _fill_steps(steps: list, job_timeout: int) -> list:
    out = []
    for step in steps:
        is_after = step.get("name") == "after_script"
        out.append({
            "timeout": job_timeout,
            "when": "always" if is_after else "on_success",
            "allow_failure": is_after,
            **step,
        })
    return out


def build_job_payload(fixture: dict, job_id: int, server_url: str) -> dict:
    """The 201 body for one job: the fixture plus everything GitLab would also send.

    Fixtures give only what matters to a test (steps, variables, runner_info.timeout,
    image...). Top-level keys win over the defaults; `variables` are merged by key.
    The `_fake` key holds fake-server options and is not sent to the runner.
    """
    fixture = {k: v for k, v in fixture.items() if k != "_fake"}
    token = f"glcbt-fake-{job_id}"
    job_info = {"name": "test", "stage": "test", "project_id": 7, "project_name": "proj",
                "project_full_path": "grp/proj", "pipeline_id": 55,
                **fixture.pop("job_info", {})}
    timeout = int(fixture.get("runner_info", {}).get("timeout", 600))
    payload = {
        "id": job_id,
        "token": token,
        "allow_git_fetch": False,
        "job_info": job_info,
        "git_info": {
            "repo_url": f"{server_url}/{job_info['project_full_path']}.git",
            "ref": "main", "sha": "0123456789abcdef0123456789abcdef01234567",
            "before_sha": "0" * 40, "ref_type": "branch",
            "refspecs": ["+refs/heads/main:refs/remotes/origin/main"], "depth": 20,
        },
        "runner_info": {"timeout": timeout},
        "services": [], "artifacts": [], "cache": [], "credentials": [], "dependencies": [],
        "features": {"trace_sections": True, "failure_reasons": list(DEFAULT_FAILURE_REASONS)},
    }
    variables = fixture.pop("variables", [])
    steps = fixture.pop("steps", [{"name": "script", "script": ["true"]}])
    payload.update(fixture)
    payload["variables"] = _merge_variables(
        _default_variables(job_id, token, server_url, job_info), variables)
    payload["steps"] = _fill_steps(steps, timeout)
    return payload
