"""The demo: the Phaedo pipeline through the real gitlab-runner and the installed
phaedo-* programs, against a fake GitLab on 127.0.0.1.

  build  (nimbus profile, runner-config/nimbus.toml: docker sandbox, scoped Docker API)
         builds the device-plugin and webhook images with `docker build` inside the
         job container and pushes them to a registry on 127.0.0.1 — when
         BUILD_IMAGE (a job image with the docker CLI) and a registry are given;
  test   (cnl-server profile, runner-config/cnl-server.toml: host sandbox, GPU node
         lease) deploys the device plugin (DaemonSet) and the admission webhook
         (Deployment + MutatingWebhookConfiguration) on a leased GPU node of a real
         loopback Kubernetes cluster and waits for a TensorFlow GPU pod to succeed.

The administrator's profiles from runner-config/ are used as shipped, with only the
host paths (state, logs, credentials, images) pointed at a temporary directory and
this machine's peers. Prints both job logs as GitLab shows them and a summary.

Usage: demo_pipeline.py --bin DIR --cluster-env FILE [--build-image IMG --registry HOST:PORT]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "runner"))
sys.path.insert(0, str(REPO / "tests" / "cluster"))
sys.path.insert(0, str(REPO / "scripts" / "lib"))

import harness  # noqa: E402
from demo_job import render  # noqa: E402
from fake_gitlab import FakeGitLab  # noqa: E402
from smoke_test import parse_env_file  # noqa: E402

GPU_TEST = REPO / "tests" / "runner" / "jobs" / "phaedo_gpu_test.sh"


def local_profile(shipped: str, replacements: dict, target: Path) -> Path:
    text = (REPO / "runner-config" / shipped).read_text()
    for old, new in replacements.items():
        if old not in text:
            raise SystemExit(f"demo: runner-config/{shipped} no longer mentions {old!r}")
        text = text.replace(old, new)
    target.write_text(text)
    return target


def run(title: str, runner_name: str, bin_dir: Path, profile: Path, job_spec: dict):
    with FakeGitLab(host=job_spec.pop("_host", "127.0.0.1")) as fake:
        job = fake.enqueue(job_spec)
        start = time.monotonic()
        with harness.RunnerProcess(fake, harness.example_executor(runner_name, bin_dir, profile),
                                   binary=harness.runner_binary()) as runner:
            final = runner.wait_job(job, timeout=900)
        seconds = time.monotonic() - start
    print(f"\n===== {title}: job {job.id} ({runner_name}) =====")
    print(render(job.trace_text))
    return final, seconds


def cnl_test(bin_dir: Path, cluster: dict, tmp: Path):
    kubectl_dir = cluster["PHAEDO_K8S_BIN"]
    profile = local_profile("cnl-server.toml", {
        "/etc/phaedo-executor/cnl-driver.kubeconfig": cluster["PHAEDO_K8S_DRIVER_KUBECONFIG"],
        "/var/log/phaedo-executor/cnl-server.log": str(tmp / "cnl-admin.log"),
        "/var/lib/phaedo-executor": str(tmp / "cnl-state"),
        "/var/cache/phaedo-executor": str(tmp / "cnl-cache"),
        'path = "/usr/local/bin:/usr/bin:/bin"': f'path = "{kubectl_dir}:/usr/local/bin:/usr/bin:/bin"',
        'lease_namespace = "phaedo-leases"': f'lease_namespace = "{cluster["PHAEDO_K8S_LEASE_NAMESPACE"]}"',
    }, tmp / "cnl-server.toml")
    job = {"job_info": {"name": "gpu-test-deviceplugin-and-webhook", "stage": "test"},
           "steps": [{"name": "script", "script": [f"bash {GPU_TEST}", "kubectl get pods -o wide"]},
                     {"name": "after_script", "script": ['echo "after_script: job status is $CI_JOB_STATUS"']}]}
    return run("GPU test", "phaedo-cnl-server", bin_dir, profile, job)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True, type=Path)
    parser.add_argument("--cluster-env", required=True)
    args = parser.parse_args()
    cluster = parse_env_file(args.cluster_env)
    results = []
    with tempfile.TemporaryDirectory(prefix="phaedo-demo-") as tmp:
        final, seconds = cnl_test(args.bin, cluster, Path(tmp))
        results.append(("test (cnl-server, GPU node lease)", final, seconds))
    print("\n===== summary =====")
    ok = True
    for title, final, seconds in results:
        line = f"{title}: {final.state} in {seconds:.1f} s"
        if final.failure_reason:
            line += f" ({final.failure_reason}, exit code {final.exit_code})"
        print(line)
        ok = ok and final.state == "success"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
