"""A unix-socket relay to the Docker daemon that a test can take down and bring
back, to play a daemon restart without touching the shared daemon.

    relay = DockerRelay(path).start()
    relay.outage_on(b"DELETE ", seconds=5)   # the first DELETE request starts an outage
    ... profile docker.socket = path ...
    relay.stop()

During an outage the socket file is gone (connects fail) and every open connection
is cut; after `seconds` the relay listens again.
"""

import os
import socket
import threading
import time

DAEMON = "/var/run/docker.sock"


class DockerRelay:
    def __init__(self, path, target=DAEMON):
        self.path, self.target = path, target
        self.outages = []  # (start, end) monotonic times of finished outages
        self._listener = None
        self._conns = set()
        self._lock = threading.Lock()
        self._trigger = None
        self._down_until = None
        self._closed = False
        self.accepted = 0  # connections accepted so far

    def start(self):
        with self._lock:
            if os.path.exists(self.path):
                os.unlink(self.path)
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(self.path)
            self._listener.listen(64)
            threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()
        return self

    def outage_on(self, marker, seconds):
        """The first request containing `marker` is dropped and starts an outage."""
        self._trigger = (marker, seconds)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            with self._lock:
                self.accepted += 1
                self._conns.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src, dst, from_client):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                trigger = self._trigger
                if from_client and trigger and trigger[0] in data:
                    self._trigger = None
                    self._outage(trigger[1])
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            src.close()  # the other direction's thread closes dst

    def cut_all(self):
        """Cuts every open connection (as a daemon restart would); new ones are accepted."""
        with self._lock:
            self._cut_locked()

    def _cut_locked(self):
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._conns.clear()

    def _outage(self, seconds):
        start = time.monotonic()
        with self._lock:
            self._listener.close()
            os.unlink(self.path)
            self._cut_locked()

        def back():
            time.sleep(seconds)
            if not self._closed:
                # Recorded before listening again: a client may finish the moment it can
                # connect, and must then find the outage on record.
                self.outages.append((start, time.monotonic()))
                self.start()

        threading.Thread(target=back, daemon=True).start()

    def stop(self):
        self._closed = True
        with self._lock:
            if self._listener:
                self._listener.close()
            for c in self._conns:
                try:
                    c.close()
                except OSError:
                    pass
            if os.path.exists(self.path):
                os.unlink(self.path)
