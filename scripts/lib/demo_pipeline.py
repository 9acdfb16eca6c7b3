"""The demo: the Phaedo pipeline through the real gitlab-runner and the installed
phaedo-* programs, against a fake GitLab on 127.0.0.1.

  build  (nimbus profile, runner-config/nimbus.toml: docker sandbox, scoped Docker API)
         builds the device-plugin and webhook images from one multi-stage Dockerfile
         with `docker build` inside the job container and pushes them to a registry on
         127.0.0.1 (Debian's docker-registry with a password); the job image is made
         offline (busybox and the host's docker CLI; no registry can be pulled from);
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
sys.path.insert(0, str(REPO / "tests" / "dockersandbox"))
sys.path.insert(0, str(REPO / "tests" / "dockerscope"))

import harness  # noqa: E402
from demo_job import render  # noqa: E402
from fake_gitlab import FakeGitLab  # noqa: E402
import docker_env  # noqa: E402
import registry_env  # noqa: E402
import scoped_env  # noqa: E402
from smoke_test import parse_env_file  # noqa: E402
from test_docker_runner import bridge_gateway  # noqa: E402

# The device plugin and the webhook from one multi-stage Dockerfile (a builder stage
# "compiles" both; each final stage copies one binary), as the Phaedo build does.
DOCKERFILE = f"""FROM {docker_env.IMAGE} AS builder
RUN mkdir -p /out && for b in device-plugin webhook; do \\
      printf '#!/bin/sh\\necho phaedo %s built by the nimbus job\\n' $b > /out/$b && chmod 755 /out/$b; done
RUN echo "built for the phaedo pipeline" > /out/BUILD-INFO
FROM {docker_env.IMAGE} AS device-plugin
COPY --from=builder /out/device-plugin /out/BUILD-INFO /usr/bin/
CMD ["/usr/bin/device-plugin"]
FROM {docker_env.IMAGE} AS webhook
COPY --from=builder /out/webhook /out/BUILD-INFO /usr/bin/
CMD ["/usr/bin/webhook"]
"""

GPU_TEST = REPO / "tests" / "runner" / "jobs" / "phaedo_gpu_test.sh"


def local_profile(shipped: str, replacements: dict, target: Path) -> Path:
    text = (REPO / "runner-config" / shipped).read_text()
    for old, new in replacements.items():
        if old not in text:
            raise SystemExit(f"demo: runner-config/{shipped} no longer mentions {old!r}")
        text = text.replace(old, new)
    target.write_text(text)
    return target


def run(title: str, runner_name: str, bin_dir: Path, profile: Path, job_spec: dict, host: str = "127.0.0.1"):
    with FakeGitLab(host=host) as fake:
        job = fake.enqueue(job_spec)
        start = time.monotonic()
        with harness.RunnerProcess(fake, harness.example_executor(runner_name, bin_dir, profile),
                                   binary=harness.runner_binary()) as runner:
            final = runner.wait_job(job, timeout=900)
        seconds = time.monotonic() - start
    print(f"\n===== {title}: job {job.id} ({runner_name}) =====")
    print(render(job.trace_text))
    return final, seconds


def nimbus_build(bin_dir: Path, tmp: Path, registry, gateway: str):
    docker_env.ensure_image()
    scoped_env.ensure_cli_image()
    profile = local_profile("nimbus.toml", {
        'shell = "bash"': 'shell = "sh"',
        "/var/log/phaedo-executor/nimbus.log": str(tmp / "nimbus-admin.log"),
        "/var/lib/phaedo-executor": str(tmp / "nimbus-state"),
        'default_image = "local/debian-minbase:12"': f'default_image = "{scoped_env.CLI_IMAGE}"',
        'allowed_images = ["local/*", "registry.nimbus.internal/ci/**"]': 'allowed_images = ["phaedo-test/*"]',
        'auth_config = "/etc/phaedo-executor/nimbus-docker-config.json"': "# auth_config: none in the demo",
        "cpus = 4": "cpus = 2",
        'cache_volume = "phaedo-nimbus-cache"': 'cache_volume = "phaedo-demo-cache"',
        'runner_binary = "/usr/bin/gitlab-runner"': f'runner_binary = "{harness.runner_binary()}"',
    }, tmp / "nimbus.toml")
    tag = f"demo-{int(time.time())}"
    images = {name: f"{registry.host}/phaedo/{name}:{tag}" for name in ("device-plugin", "webhook")}
    script = ["mkdir -p ctx", f"cat > ctx/Dockerfile <<'EOF'\n{DOCKERFILE}EOF",
              f'echo "$REGISTRY_PASSWORD" | docker login {registry.host} -u {registry_env.USER} --password-stdin']
    for name, ref in images.items():
        script += [f"docker build --target {name} -t {ref} ctx", f"docker push {ref}"]
    script += ["docker images --format '{{.Repository}}:{{.Tag}}'"]
    job = {"job_info": {"name": "build-deviceplugin-and-webhook", "stage": "build"},
           "image": {"name": scoped_env.CLI_IMAGE},
           "variables": [{"key": "REGISTRY_PASSWORD", "value": registry_env.PASSWORD, "masked": True}],
           "steps": [{"name": "script", "script": script}]}
    final, seconds = run("build", "phaedo-nimbus", bin_dir, profile, job, host=gateway)
    return final, seconds, images


def cnl_test(bin_dir: Path, cluster: dict, tmp: Path, images: dict):
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
           "variables": [{"key": "DEVICE_PLUGIN_IMAGE", "value": images.get("device-plugin", ""), "public": True},
                         {"key": "WEBHOOK_IMAGE", "value": images.get("webhook", ""), "public": True}],
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
    images = {}
    with tempfile.TemporaryDirectory(prefix="phaedo-demo-") as tmp:
        registry = registry_env.Registry().start()
        gateway, gateway_network = bridge_gateway()
        try:
            final, seconds, images = nimbus_build(args.bin, Path(tmp), registry, gateway)
            results.append(("build (nimbus, scoped Docker API)", final, seconds))
        finally:
            registry.stop()
            if gateway_network:
                docker_env.docker("network", "rm", gateway_network, check=False)
            docker_env.docker("volume", "rm", "phaedo-demo-cache", check=False)
        if final.state == "success":
            final, seconds = cnl_test(args.bin, cluster, Path(tmp), images)
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
