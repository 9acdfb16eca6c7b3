"""Proxy cost of the scoped Docker API, measured against the host socket directly (not run by ctest).

    PHAEDO_DOCKERSCOPE=/path/to/phaedo-dockerscope python3 bench_proxy.py [context MiB, default 1024] [runs, default 5]

Prints the median of 50 `GET /containers/json` round trips on one keep-alive connection,
the median of 200 `GET /_ping` on new connections, 200 interleaved pairs of `docker ps`
runs (medians and the median of the paired differences), and the wall time of
`docker build` of a context of random bytes through each socket (Dockerfile: FROM the
offline busybox image + LABEL), `runs` times each, interleaved; medians and ratio.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from scope_env import DOCKER, HOST_SOCKET, IMAGE, RUN, Proxy, _env, ensure_image, host


def round_trips(path, n=50):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    f = s.makefile("rb")
    times = []
    for _ in range(n + 5):
        t = time.perf_counter()
        s.sendall(b"GET /v1.41/containers/json HTTP/1.1\r\nHost: d\r\n\r\n")
        length, chunked = None, False
        while True:
            line = f.readline()
            if line in (b"\r\n", b""):
                break
            low = line.lower()
            if low.startswith(b"content-length:"):
                length = int(low.split(b":")[1])
            if low.startswith(b"transfer-encoding:") and b"chunked" in low:
                chunked = True
        if length is not None:
            f.read(length)
        elif chunked:
            while True:
                size = int(f.readline().strip(), 16)
                f.read(size + 2)
                if size == 0:
                    break
        times.append((time.perf_counter() - t) * 1000)
    s.close()
    return statistics.median(times[5:])


def new_connections(paths, n=200):
    """Median ms of one `GET /_ping` on a new connection (connect, request, answer, close)
    through each path, the paths taking turns."""
    times = [[] for _ in paths]
    for i in range(n + 5):
        for j, path in enumerate(paths):
            t = time.perf_counter()
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n")
                data = b""
                while not data.endswith(b"OK"):  # the body of a ping answer
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            if i >= 5:
                times[j].append((time.perf_counter() - t) * 1000)
    return [statistics.median(t) for t in times]


def cli_overhead(sockets, cfgs, n=200):
    """`docker ps` through each socket, n rounds, the order alternating each round.
    Returns the median ms of each and the median of the paired differences (second
    minus first): a process start of the CLI varies by milliseconds, a pair shares
    the machine's state of the moment."""
    times = [[] for _ in sockets]
    for r in range(n + 3):
        order = range(len(sockets)) if r % 2 == 0 else reversed(range(len(sockets)))
        for i in order:
            t = time.perf_counter()
            subprocess.run([DOCKER, "ps"], capture_output=True, check=True, env=_env("unix://" + sockets[i], cfgs[i]))
            if r >= 3:
                times[i].append((time.perf_counter() - t) * 1000)
    diffs = [b - a for a, b in zip(times[0], times[1])]
    return statistics.median(times[0]), statistics.median(times[1]), statistics.median(diffs)


def build_seconds(sock, cfg, ctx):
    t = time.perf_counter()
    r = subprocess.run([DOCKER, "build", "-q", ctx], capture_output=True, text=True, check=True,
                       env=_env("unix://" + sock, cfg))
    elapsed = time.perf_counter() - t
    host("rmi", r.stdout.strip().splitlines()[-1], check=False)
    return elapsed


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ensure_image()
    proxy = Proxy(RUN + "-bench")
    cfg = tempfile.mkdtemp(prefix="phaedo-bench-cfg-")
    try:
        print("GET /containers/json keep-alive, median of 50: direct %.3f ms, proxy %.3f ms"
              % (round_trips(HOST_SOCKET), round_trips(proxy.socket)))
        print("GET /_ping on a new connection, median of 200: direct %.3f ms, proxy %.3f ms"
              % tuple(new_connections([HOST_SOCKET, proxy.socket])))
        direct_ps, proxy_ps, overhead = cli_overhead([HOST_SOCKET, proxy.socket], [cfg, proxy.config])
        print("docker ps, 200 interleaved pairs: direct %.1f ms, proxy %.1f ms (medians); overhead, median of the"
              " paired differences: %.2f ms" % (direct_ps, proxy_ps, overhead))
        with tempfile.TemporaryDirectory() as ctx:
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("FROM %s\nLABEL bench=%s\n" % (IMAGE, RUN))
            with open(os.path.join(ctx, "blob"), "wb") as f:
                for _ in range(mib):
                    f.write(os.urandom(1 << 20))
            direct, proxied = [], []
            for i in range(runs):
                for side in ((0, 1) if i % 2 == 0 else (1, 0)):
                    if side == 0:
                        direct.append(build_seconds(HOST_SOCKET, cfg, ctx))
                    else:
                        proxied.append(build_seconds(proxy.socket, proxy.config, ctx))
                print("build with a %d MiB context: direct %.2f s, proxy %.2f s" % (mib, direct[-1], proxied[-1]))
            d, p = statistics.median(direct), statistics.median(proxied)
            print("build with a %d MiB context, median of %d: direct %.2f s (%.0f MiB/s), proxy %.2f s (%.0f MiB/s),"
                  " throughput ratio %.2f" % (mib, runs, d, mib / d, p, mib / p, d / p))
    finally:
        proxy.stop()
        proxy.cleanup()


if __name__ == "__main__":
    main()
