"""A misbehaving link for sync tests and benchmarks: an HTTP/1.1 proxy on loopback in front of the bureau.

Per request it may cut the request or the response at a random byte offset (both sockets closed, as when a
tablet leaves the building), delay it, or send it to the bureau a second time, later, on a connection of its own
(as a retrying middlebox would). It counts the bytes it carries between the device and itself in both
directions: the wire cost of a sync. Every choice comes from one `random.Random(seed)`, or from a `decide` hook.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Fate:
    cut_request_at: int | None = None  # forward only this many bytes of the request, then hang up
    cut_response_at: int | None = None  # let the bureau answer, give the device only this many bytes of it
    delay: float = 0.0
    duplicate_after: float | None = None  # send the request again, this many seconds later


def _read_message(sock: socket.socket, buffer: bytearray) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (all the bureau and the device use), or None at EOF."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    head_end = buffer.index(b"\r\n\r\n") + 4
    length = 0
    for line in bytes(buffer[:head_end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(buffer) < head_end + length:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
    message = bytes(buffer[:head_end + length])
    del buffer[:head_end + length]
    return message


class FaultProxy:
    def __init__(self, upstream: tuple[str, int], seed: int = 0, *, cut: float = 0.0, delay: float = 0.0,
                 duplicate: float = 0.0, max_delay: float = 0.2,
                 decide: Callable[[bytes], Fate] | None = None):
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.cut, self.delay, self.duplicate, self.max_delay = cut, delay, duplicate, max_delay
        self.decide = decide or self._random_fate
        self.lock = threading.Lock()
        self.bytes_up = self.bytes_down = 0
        self.cuts = self.duplicates = self.delays = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.threads: list[threading.Thread] = []
        self.open_sockets: set[socket.socket] = set()
        self.stopped = False

    def _random_fate(self, request: bytes) -> Fate:
        with self.lock:
            roll = self.rng.random()
            fate = Fate()
            if roll < self.cut / 2:
                fate = Fate(cut_request_at=self.rng.randrange(len(request)))
            elif roll < self.cut:
                fate = Fate(cut_response_at=self.rng.randrange(1 << 12))
            if self.rng.random() < self.delay:
                fate = Fate(fate.cut_request_at, fate.cut_response_at, self.rng.uniform(0, self.max_delay))
            if self.rng.random() < self.duplicate:
                fate = Fate(fate.cut_request_at, fate.cut_response_at, fate.delay,
                            self.rng.uniform(0, self.max_delay))
            return fate

    def __enter__(self) -> FaultProxy:
        self._spawn(self._accept_loop)
        return self

    def __exit__(self, *exc) -> None:
        self.stopped = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            self._close(sock)
        for thread in self.threads:
            thread.join(timeout=5)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> socket.socket:
        with self.lock:
            self.open_sockets.add(sock)
        return sock

    def _close(self, sock: socket.socket) -> None:
        with self.lock:
            self.open_sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept_loop(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._spawn(self._serve, self._track(client))

    def _send_copy(self, request: bytes, after: float) -> None:
        time.sleep(after)
        try:
            with socket.create_connection(self.upstream, timeout=10) as copy:
                copy.sendall(request)
                _read_message(copy, bytearray())
        except OSError:
            pass

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        from_client, from_upstream = bytearray(), bytearray()
        try:
            while True:
                request = _read_message(client, from_client)
                if request is None:
                    return
                with self.lock:
                    self.bytes_up += len(request)
                fate = self.decide(request)
                if fate.duplicate_after is not None:
                    with self.lock:
                        self.duplicates += 1
                    self._spawn(self._send_copy, request, fate.duplicate_after)
                if fate.delay:
                    with self.lock:
                        self.delays += 1
                    time.sleep(fate.delay)
                if upstream is None:
                    upstream = self._track(socket.create_connection(self.upstream, timeout=30))
                if fate.cut_request_at is not None:
                    upstream.sendall(request[:fate.cut_request_at])
                    with self.lock:
                        self.cuts += 1
                    return
                upstream.sendall(request)
                response = _read_message(upstream, from_upstream)
                if response is None:
                    return
                if fate.cut_response_at is not None and fate.cut_response_at < len(response):
                    client.sendall(response[:fate.cut_response_at])
                    with self.lock:
                        self.cuts += 1
                        self.bytes_down += fate.cut_response_at
                    return
                client.sendall(response)
                with self.lock:
                    self.bytes_down += len(response)
        except OSError:
            return
        finally:
            self._close(client)
            if upstream is not None:
                self._close(upstream)
