#!/usr/bin/env python3
"""A fake GitLab API, just enough for a real `gitlab-runner` to run jobs against.

Contract: docs custom-executor-protocol.md sections 11.3-11.5, checked against the real
runner by test_fake_gitlab_selftest.py. Routes (base /api/v4):

  POST  /jobs/request        201 + job JSON, or 204 when the queue is empty (never 403:
                             that parks the runner for 300 s)
  PUT   /jobs/:id            job state (confirm, keep-alive, final); 200
  PATCH /jobs/:id/trace      append-only trace with Content-Range checks; 202 / 416
  POST  /jobs/:id/artifacts  multipart `file` upload; 201
  GET   /jobs/:id/artifacts  download of what that job uploaded; 200 / 404

Every PUT/PATCH reply carries `Job-Status` and `X-GitLab-Trace-Update-Interval`. A job
is cancelled by switching its `Job-Status` to `canceling` (graceful: after_script still
runs) or `canceled` (hard abort), either from test code (FakeJob.cancel) or when the
trace first contains a marker string.

Library use:
    with FakeGitLab() as fake:
        job = fake.enqueue("success_echo.json")       # fixture in tests/runner/jobs/
        ... start a runner against fake.url ...
        job.wait_final(timeout=60)
        assert job.final.state == "success" and "hello 42" in job.trace_text

CLI use:
    python3 fake_gitlab.py --port 8080 --job jobs/success_echo.json --exit-when-done
"""

from __future__ import annotations

import argparse
import dataclasses
import http.server
import json
import re
import sys
import threading
import time
import urllib.parse
import zlib
from collections import deque
from pathlib import Path
from typing import Any, Callable, Optional

from job_payload import build_job_payload, load_fixture

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SECTION_MARK = re.compile(r"section_(?:start|end):\d+:[^\r\n\x1b]*\r?")
_SECTION_START = re.compile(r"section_start:\d+:([A-Za-z0-9_.-]+)")
DEFAULT_RUNNER_TOKEN = "glrt-phaedo-fake-runner-token"
FINAL_STATES = ("success", "failed")
CANCEL_MODES = ("canceling", "canceled", "failed")


# --------------------------------------------------------------------------------------
# Recorded state
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class Update:
    """One PUT /jobs/:id as received."""
    state: str
    failure_reason: Optional[str]
    exit_code: Optional[int]
    bytesize: Optional[int]
    checksum: Optional[str]
    checksum_ok: Optional[bool]  # runner's CRC32 matches the stored trace
    trace_len: int               # stored trace length when the PUT arrived
    at: float


@dataclasses.dataclass
class RequestRecord:
    method: str
    path: str
    status: int
    job_id: Optional[int]
    at: float
    detail: str = ""  # e.g. "state=running", "0-511"

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {self.detail}".rstrip()


@dataclasses.dataclass
class Artifact:
    filename: str
    data: bytes
    query: dict


class FakeJob:
    """One job's life on the fake server. Read fields after wait_final()."""

    def __init__(self, payload: dict, cancel_on_trace: Optional[str], cancel_mode: str):
        if cancel_mode not in CANCEL_MODES:
            raise ValueError(f"cancel_mode must be one of {CANCEL_MODES}")
        self.payload = payload
        self.id: int = payload["id"]
        self.token: str = payload["token"]
        self.name: str = payload["job_info"]["name"]
        self.trace = bytearray()
        self.updates: list[Update] = []
        self.artifacts: list[Artifact] = []
        self.dispatched_at: Optional[float] = None
        self.cancel_on_trace = cancel_on_trace
        self.cancel_mode = cancel_mode
        self.cancel_sent_at: Optional[float] = None  # first reply carrying the cancel
        self._remote_status = "running"  # what Job-Status says
        self._final = threading.Event()

    # -- what tests read ---------------------------------------------------------------

    @property
    def trace_text(self) -> str:
        return self.trace.decode("utf-8", errors="replace")

    def trace_lines(self) -> list[str]:
        """The trace as plain lines: no ANSI colours, no section markers, no blanks."""
        text = _SECTION_MARK.sub("\n", _ANSI.sub("", self.trace_text))
        return [line.rstrip("\r") for line in text.splitlines() if line.strip()]

    def sections(self) -> list[str]:
        """Names of the collapsible sections in trace order (needs trace_sections)."""
        return _SECTION_START.findall(self.trace_text)

    @property
    def final(self) -> Optional[Update]:
        """The last PUT with a final state, or None while the job runs."""
        finals = [u for u in self.updates if u.state in FINAL_STATES]
        return finals[-1] if finals else None

    @property
    def transitions(self) -> list[str]:
        """Distinct consecutive states from the PUTs, e.g. ['running', 'failed']."""
        states: list[str] = []
        for u in self.updates:
            if not states or states[-1] != u.state:
                states.append(u.state)
        return states

    def wait_final(self, timeout: float) -> Update:
        if not self._final.wait(timeout):
            raise TimeoutError(
                f"job {self.id} ({self.name}) not final after {timeout}s; "
                f"transitions={self.transitions} trace tail:\n{self.trace_text[-2000:]}")
        return self.final  # type: ignore[return-value]

    def cancel(self, mode: str = "canceling") -> None:
        """From now on PATCH/PUT replies say `Job-Status: <mode>`."""
        if mode not in CANCEL_MODES:
            raise ValueError(f"cancel mode must be one of {CANCEL_MODES}")
        self._remote_status = mode

    # -- used by the server ------------------------------------------------------------

    def remote_status(self) -> str:
        if self._remote_status != "running" and self.cancel_sent_at is None:
            self.cancel_sent_at = time.monotonic()
        return self._remote_status

    def append_trace(self, data: bytes) -> None:
        self.trace += data
        if self.cancel_on_trace and self.cancel_on_trace.encode() in self.trace:
            self.cancel_on_trace = None  # trigger once
            self.cancel(self.cancel_mode)

    def record_update(self, body: dict) -> Update:
        output = body.get("output") or {}
        checksum = output.get("checksum") or body.get("checksum")
        update = Update(
            state=body.get("state", ""),
            failure_reason=body.get("failure_reason"),
            exit_code=body.get("exit_code"),
            bytesize=output.get("bytesize"),
            checksum=checksum,
            checksum_ok=(checksum == f"crc32:{zlib.crc32(self.trace):08x}") if checksum else None,
            trace_len=len(self.trace),
            at=time.monotonic(),
        )
        self.updates.append(update)
        if update.state in FINAL_STATES:
            self._final.set()
        return update

    def dependency_entry(self) -> dict:
        """This job as another job's `dependencies[]` item (for artifact downloads)."""
        last = self.artifacts[-1] if self.artifacts else Artifact("artifacts.zip", b"", {})
        filename, size = last.filename, len(last.data)
        return {"id": self.id, "token": self.token, "name": self.name,
                "artifacts_file": {"filename": filename, "size": size}}


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------

class _Reply:
    def __init__(self, status: int, body: bytes = b"", headers: Optional[dict] = None,
                 content_type: str = "application/json"):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


def _json_reply(status: int, obj: Any, headers: Optional[dict] = None) -> _Reply:
    return _Reply(status, json.dumps(obj).encode(), headers)


def _parse_multipart(content_type: str, body: bytes) -> list[tuple[str, str, bytes]]:
    """(field name, filename, data) per part; byte-exact, unlike the email package."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        return []
    delimiter = b"--" + match.group(1).encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        disposition = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        parts.append((name.group(1) if name else "", filename.group(1) if filename else "",
                      data[:-2] if data.endswith(b"\r\n") else data))
    return parts


class _Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 so the runner's Go client can keep connections alive; every reply
    # therefore sends Content-Length.
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the fake keeps its own request log

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def _read_body(self) -> bytes:
        # The artifact uploader streams its multipart body with chunked encoding.
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        reply, job_id, detail = self.server.fake.handle(method, url.path, url.query,
                                                        self.headers, body)
        self.server.fake.log_request(RequestRecord(method, url.path, reply.status, job_id,
                                                   time.monotonic(), detail))
        self.send_response(reply.status)
        if reply.body:
            self.send_header("Content-Type", reply.content_type)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeGitLab"


_JOB_ROUTE = re.compile(r"^/api/v4/jobs/(\d+)(/trace|/artifacts)?$")


class FakeGitLab:
    """The fake server. Thread-safe; start() serves from a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 runner_token: str = DEFAULT_RUNNER_TOKEN, update_interval: int = 1,
                 first_job_id: int = 1000):
        self.runner_token = runner_token
        self.update_interval = update_interval
        self.requests: list[RequestRecord] = []
        self.errors: list[str] = []           # protocol violations the fake noticed
        self.runner_info: Optional[dict] = None  # `info` of the last jobs/request
        self.on_request: Optional[Callable[[RequestRecord], None]] = None
        self._jobs: dict[int, FakeJob] = {}
        self._queue: deque[int] = deque()
        self._next_id = first_job_id
        self._lock = threading.RLock()
        self._server = _Server((host, port), _Handler)
        self._server.fake = self
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "FakeGitLab":
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-gitlab", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeGitLab":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- test API ----------------------------------------------------------------------

    def enqueue(self, fixture: str | Path | dict, *, cancel_on_trace: Optional[str] = None,
                cancel_mode: Optional[str] = None, dependencies: tuple = ()) -> FakeJob:
        """Queue a job; the next jobs/request gets it.

        cancel_on_trace / cancel_mode default to the fixture's `_fake` section.
        Note the runner echoes each script line (`$ echo X`) before its output, so pick a
        marker that only the output contains (e.g. `echo "ready-$((6*7))"` → ready-42).
        dependencies: earlier FakeJobs whose uploaded artifacts this job downloads.
        """
        data = load_fixture(fixture)
        options = data.get("_fake", {})
        with self._lock:
            job_id = self._next_id
            self._next_id += 1
            payload = build_job_payload(data, job_id, self.url)
            if dependencies:
                payload["dependencies"] = [d.dependency_entry() for d in dependencies]
            job = FakeJob(payload, cancel_on_trace or options.get("cancel_on_trace"),
                          cancel_mode or options.get("cancel_mode", "canceling"))
            self._jobs[job_id] = job
            self._queue.append(job_id)
        return job

    def job(self, job_id: int) -> FakeJob:
        return self._jobs[job_id]

    @property
    def jobs(self) -> list[FakeJob]:
        return list(self._jobs.values())

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def requests_for(self, job: FakeJob) -> list[RequestRecord]:
        return [r for r in self.requests if r.job_id == job.id]

    def wait_all_final(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for job in self.jobs:
            job.wait_final(max(0.0, deadline - time.monotonic()))

    # -- request handling (called from server threads) -----------------------------------

    def log_request(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)
        if self.on_request:
            self.on_request(record)

    def _error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def handle(self, method: str, path: str, query: str, headers: Any,
               body: bytes) -> tuple[_Reply, Optional[int], str]:
        if method == "POST" and path == "/api/v4/jobs/request":
            return self._request_job(headers, body)
        match = _JOB_ROUTE.match(path)
        if not match:
            self._error(f"unexpected request {method} {path}")
            return _json_reply(404, {"message": "404 Not Found"}), None, ""
        job_id, sub = int(match.group(1)), match.group(2) or ""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                self._error(f"{method} {path}: unknown job")
                return _json_reply(404, {"message": "404 Job Not Found"}), job_id, ""
            route = {("PUT", ""): self._update_job, ("PATCH", "/trace"): self._patch_trace,
                     ("POST", "/artifacts"): self._upload_artifacts,
                     ("GET", "/artifacts"): self._download_artifacts}.get((method, sub))
            if route is None:
                self._error(f"unexpected request {method} {path}")
                return _json_reply(405, {"message": "405 Method Not Allowed"}), job_id, ""
            reply, detail = route(job, query, headers, body)
            return reply, job_id, detail

    def _request_job(self, headers: Any, body: bytes) -> tuple[_Reply, Optional[int], str]:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
            self._error("jobs/request body is not JSON")
        token = headers.get("RUNNER-TOKEN") or request.get("token")
        with self._lock:
            self.runner_info = request.get("info")
            if token != self.runner_token:
                # Never 403 here: the runner would pause for 300 s. Log and say "no job".
                self._error(f"jobs/request with wrong runner token {token!r}")
                return _Reply(204), None, "bad token"
            if not self._queue:
                return _Reply(204), None, "empty"
            job = self._jobs[self._queue.popleft()]
            job.dispatched_at = time.monotonic()
        return _json_reply(201, job.payload), job.id, "dispatched"

    def _state_headers(self, job: FakeJob) -> dict:
        return {"Job-Status": job.remote_status(),
                "X-GitLab-Trace-Update-Interval": str(self.update_interval)}

    def _check_job_token(self, job: FakeJob, headers: Any, body_token: Any = None) -> bool:
        token = headers.get("JOB-TOKEN") or body_token
        if token != job.token:
            self._error(f"job {job.id}: wrong job token {token!r}")
            return False
        return True

    def _update_job(self, job: FakeJob, query: str, headers: Any, body: bytes):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            self._error(f"job {job.id}: PUT body is not JSON")
            return _json_reply(400, {"message": "400 Bad Request"}), "bad json"
        if not self._check_job_token(job, headers, data.get("token")):
            return _json_reply(403, {"message": "403 Forbidden"}), "bad token"
        reply_headers = self._state_headers(job)  # the status before this update
        update = job.record_update(data)
        if update.checksum_ok is False and update.state in FINAL_STATES:
            self._error(f"job {job.id}: final checksum {update.checksum} does not match "
                        f"the stored trace ({update.trace_len} bytes)")
        detail = f"state={update.state}"
        if update.failure_reason:
            detail += f" reason={update.failure_reason}"
        if update.exit_code is not None:
            detail += f" exit_code={update.exit_code}"
        return _Reply(200, b"", reply_headers), detail

    def _patch_trace(self, job: FakeJob, query: str, headers: Any, body: bytes):
        if not self._check_job_token(job, headers):
            return _json_reply(403, {"message": "403 Forbidden"}), "bad token"
        content_range = headers.get("Content-Range", "")
        match = re.fullmatch(r"(\d+)-(\d+)", content_range.strip())
        if not match:
            self._error(f"job {job.id}: bad Content-Range {content_range!r}")
            return _json_reply(400, {"message": "400 Bad Request"}), content_range
        start, end = int(match.group(1)), int(match.group(2))
        if end - start + 1 != len(body):
            self._error(f"job {job.id}: Content-Range {content_range} but {len(body)} bytes")
            return _json_reply(400, {"message": "400 Bad Request"}), content_range
        stored = len(job.trace)
        if start != stored and not self._is_resend_after_abort(job, start, body):
            # GitLab: 416 plus the range it has; the runner resumes from there.
            return _Reply(416, b"", {**self._state_headers(job), "Range": f"0-{stored}"}), \
                f"{content_range} (have {stored})"
        job.append_trace(body[stored - start:])
        reply_headers = {**self._state_headers(job), "Range": f"0-{len(job.trace)}"}
        return _Reply(202, b"", reply_headers), content_range

    @staticmethod
    def _is_resend_after_abort(job: FakeJob, start: int, body: bytes) -> bool:
        """After a hard cancel the runner keeps its offset at the start of the PATCH that
        carried `Job-Status: canceled` and sends that part again in its final flush, then
        stops at the next `canceled` reply. Real GitLab would refuse it (403, job not
        running); the fake accepts a consistent overlap so the stored trace stays whole
        and the final checksum can be checked."""
        stored = len(job.trace)
        return (job.remote_status() in ("canceled", "failed") and start < stored
                and start + len(body) >= stored
                and bytes(job.trace[start:]) == body[:stored - start])

    def _upload_artifacts(self, job: FakeJob, query: str, headers: Any, body: bytes):
        if not self._check_job_token(job, headers):
            return _json_reply(403, {"message": "403 Forbidden"}), "bad token"
        files = [p for p in _parse_multipart(headers.get("Content-Type", ""), body)
                 if p[0] == "file"]
        if not files:
            self._error(f"job {job.id}: artifacts upload without a `file` part")
            return _json_reply(400, {"message": "400 Bad Request"}), "no file"
        _, filename, data = files[0]
        params = dict(urllib.parse.parse_qsl(query))
        job.artifacts.append(Artifact(filename, data, params))
        return _json_reply(201, {}), f"{filename} {len(data)} bytes"

    def _download_artifacts(self, job: FakeJob, query: str, headers: Any, body: bytes):
        # The *downloading* job authenticates; accept any job token this fake issued.
        token = headers.get("JOB-TOKEN")
        if token not in {j.token for j in self._jobs.values()}:
            self._error(f"artifact download of job {job.id} with unknown token {token!r}")
            return _json_reply(403, {"message": "403 Forbidden"}), "bad token"
        if not job.artifacts:
            return _json_reply(404, {"message": "404 Not Found"}), "none"
        data = job.artifacts[-1].data
        return _Reply(200, data, content_type="application/octet-stream"), f"{len(data)} bytes"


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------

def _summary(job: FakeJob) -> dict:
    final = job.final
    return {"id": job.id, "name": job.name, "transitions": job.transitions,
            "state": final.state if final else None,
            "failure_reason": final.failure_reason if final else None,
            "exit_code": final.exit_code if final else None,
            "trace_bytes": len(job.trace)}


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = ephemeral")
    parser.add_argument("--runner-token", default=DEFAULT_RUNNER_TOKEN)
    parser.add_argument("--job", action="append", default=[], metavar="FILE",
                        help="job fixture (path or name in tests/runner/jobs); repeatable")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="exit once every job is final, printing a JSON summary")
    args = parser.parse_args(argv)

    fake = FakeGitLab(args.host, args.port, args.runner_token)
    fake.on_request = lambda r: print(f"fake-gitlab: {r}", file=sys.stderr, flush=True)
    for fixture in args.job:
        job = fake.enqueue(fixture)
        print(f"fake-gitlab: queued job {job.id} ({fixture})", file=sys.stderr)
    fake.start()
    print(f"fake-gitlab: serving {fake.url} runner token {fake.runner_token}",
          file=sys.stderr, flush=True)
    print(fake.url, flush=True)
    try:
        while not (args.exit_when_done and fake.jobs and all(j.final for j in fake.jobs)):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    json.dump({"jobs": [_summary(j) for j in fake.jobs], "errors": fake.errors},
              sys.stdout, indent=2)
    print()
    return 1 if fake.errors else 0


if __name__ == "__main__":
    sys.exit(main())
