"""A recorder of Kubernetes watch events, for tests that check who held which node.

ClusterWatch(api_url, ca_file, token, paths) opens one streaming watch per API path
(e.g. /apis/coordination.k8s.io/v1/namespaces/phaedo-leases/leases) in a thread and
keeps every event as (monotonic time, path, type, object) until stop(). It re-opens a
watch that the server ends (watches time out) from the last resourceVersion seen.
Standard library only.
"""

import json
import ssl
import threading
import time
import urllib.parse
import urllib.request


class ClusterWatch:
    def __init__(self, api_url: str, ca_file: str, token: str, paths: list[str]):
        self.api_url, self.token, self.paths = api_url.rstrip("/"), token, paths
        self.context = ssl.create_default_context(cafile=ca_file)
        self.events: list[tuple[float, str, str, dict]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._responses = []
        self._threads = [threading.Thread(target=self._follow, args=(p,), daemon=True) for p in paths]
        self._ready = threading.Barrier(len(paths) + 1)

    def __enter__(self) -> "ClusterWatch":
        for t in self._threads:
            t.start()
        self._ready.wait(timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for r in list(self._responses):
            try:
                r.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)

    def snapshot(self) -> list[tuple[float, str, str, dict]]:
        with self._lock:
            return list(self.events)

    def _get(self, path: str, query: dict):
        url = f"{self.api_url}{path}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        return urllib.request.urlopen(request, context=self.context, timeout=300)

    def _follow(self, path: str) -> None:
        # List first, so the watch starts from a known state that is recorded too.
        first = True
        version = ""
        try:
            with self._get(path, {}) as r:
                listing = json.load(r)
            version = listing["metadata"]["resourceVersion"]
            now = time.monotonic()
            with self._lock:
                for item in listing.get("items", []):
                    self.events.append((now, path, "LISTED", item))
        except Exception as e:  # noqa: BLE001 - recorded, the test asserts on errors
            self.errors.append(f"list {path}: {e}")
        while not self._stop.is_set():
            try:
                response = self._get(path, {"watch": "1", "resourceVersion": version,
                                            "allowWatchBookmarks": "true", "timeoutSeconds": "240"})
                self._responses.append(response)
                if first:
                    first = False
                    self._ready.wait(timeout=30)
                for line in response:
                    event = json.loads(line)
                    obj = event.get("object", {})
                    if event.get("type") == "ERROR":
                        version = ""  # too old: relist from now (recorded as an error)
                        self.errors.append(f"watch {path}: {obj.get('message')}")
                        break
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event.get("type") == "BOOKMARK":
                        continue
                    with self._lock:
                        self.events.append((time.monotonic(), path, event["type"], obj))
            except Exception as e:  # noqa: BLE001
                if not self._stop.is_set():
                    self.errors.append(f"watch {path}: {e}")
                    time.sleep(0.5)
            if first:
                first = False
                self._ready.wait(timeout=30)


def holders_over_time(events, taint_key: str):
    """From lease and node events: per node, the holder timeline [(t, holder or None)]
    and every moment at which a node carried more than one job taint."""
    holders: dict[str, list] = {}
    double_taints = []
    for t, path, kind, obj in events:
        name = obj.get("metadata", {}).get("name", "")
        if path.endswith("/leases"):
            holder = None if kind == "DELETED" else obj.get("spec", {}).get("holderIdentity") or None
            timeline = holders.setdefault(name, [])
            if not timeline or timeline[-1][1] != holder:
                timeline.append((t, holder))
        elif path.endswith("/nodes"):
            taints = [x for x in obj.get("spec", {}).get("taints", []) or [] if x.get("key") == taint_key]
            if len(taints) > 1:
                double_taints.append((t, name, taints))
    return holders, double_taints
