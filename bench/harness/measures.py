"""One function per measurement; each returns (figure, raw details) or raises BenchError."""
import csv
import errno
import io
import json
import re
import select
import selectors
import socket
import time

from .procfs import accept_backlog, established_to, wait_until
from .procs import BenchError, Supervisor
from .servers import Endpoint, Peer


def iperf_gbps(sup: Supervisor, port: int, seconds: int, streams: int) -> tuple[float, dict]:
    argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
            "-P", str(streams), "-J"]
    # Through a proxy, the previous test's close reaches iperf3 -s a little late, and it
    # turns a new client away as "busy" until then: wait and retry.
    for _ in range(5):
        try:
            report = json.loads(sup.run(argv, timeout=seconds + 20))
        except (BenchError, json.JSONDecodeError) as error:
            report = {"error": str(error)}
        if "busy" not in report.get("error", ""):
            break
        time.sleep(1)
    if "error" in report:
        raise BenchError(f"iperf3: {report['error']}")
    received = report["end"]["sum_received"]
    return received["bits_per_second"] / 1e9, {
        "bits_per_second": received["bits_per_second"], "bytes": received["bytes"]}


def redis_benchmark(sup: Supervisor, port: int, clients: int, requests: int,
                    tests: str) -> dict[str, dict]:
    """redis-benchmark's --csv rows by test name: rps, avg/min/p50/p95/p99/max latency (ms)."""
    out = sup.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
                   "-n", str(requests), "-t", tests, "--csv"], timeout=150)
    rows = {row["test"]: {k: float(v) for k, v in row.items() if k != "test"}
            for row in csv.DictReader(io.StringIO(out))}
    if not rows:
        raise BenchError(f"redis-benchmark printed no CSV rows: {out.strip()[-200:]}")
    return rows


def connection_rate(sup: Supervisor, port: int, seconds: int) -> tuple[float, dict]:
    """Requests/s of one wrk thread, 50 connections, each request on a new TCP connection.

    `Connection: close` makes the static server close after every answer, so each request
    costs the proxy an accept, an upstream connect and two teardowns. One wrk thread keeps the
    client to one core and leaves the other to the proxy and the server.
    """
    out = sup.run(["wrk", "-t1", "-c50", f"-d{seconds}s", "-H", "Connection: close",
                   f"http://127.0.0.1:{port}/"], timeout=seconds + 20)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    if not rate or not total:
        raise BenchError(f"unexpected wrk output: {out.strip()[-200:]}")
    errors = {kind: int(n) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    requests = int(total.group(1))
    if sum(errors.values()) > requests / 100:
        raise BenchError(f"wrk saw errors on more than 1% of {requests} requests: {errors}")
    return float(rate.group(1)), {"requests": requests, "errors": errors}


def round_trips_ms(port: int, count: int, warmup: int, timeout: float) -> list[float]:
    """Round-trip times of `count` redis PINGs sent one after another on one connection, in ms.

    One request in flight at a time, so each sample is one trip through the proxy and through
    its fault, nothing queued behind another. The `warmup` trips before are dropped: the first
    waits for the proxy's upstream connect.
    """
    deadline = time.monotonic() + timeout
    samples: list[float] = []
    trip = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for trip in range(warmup + count):
                if time.monotonic() > deadline:
                    raise BenchError(f"{trip} of {warmup + count} round trips in {timeout:.0f} s")
                started = time.perf_counter()
                sock.sendall(b"PING\r\n")
                _expect(sock, b"+PONG\r\n")
                if trip >= warmup:
                    samples.append((time.perf_counter() - started) * 1000)
    except OSError as error:
        raise BenchError(f"round trip {trip + 1}: {error}") from None
    return samples


def _expect(sock: socket.socket, reply: bytes) -> None:
    got = b""
    while len(got) < len(reply):
        chunk = sock.recv(len(reply) - len(got))
        if not chunk:
            raise BenchError(f"connection closed after {got!r}, expected {reply!r}")
        got += chunk
    if got != reply:
        raise BenchError(f"got {got!r}, expected {reply!r}")


def cutoff_errors_ms(port: int, after: float, batches: int, size: int) -> list[float]:
    """(observed lifetime - `after`) of `batches` x `size` idle connections, in ms.

    The lifetime runs from connect() returning to recv() returning EOF. A batch's connections
    are open at the same time, so the proxy's timers for them fire close together, as they
    would for a pool of real clients; their connects are 4 ms apart, so one stall of this
    machine moves a few samples, not a whole batch.
    """
    errors: list[float] = []
    for _ in range(batches):
        errors += _cutoff_batch(port, after, size)
    return errors


def _cutoff_batch(port: int, after: float, size: int) -> list[float]:
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}  # socket -> when its connect() returned
    try:
        for _ in range(size):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            opened[sock] = time.perf_counter()
            time.sleep(0.004)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        return _lifetimes_over(selector, opened, after)
    except OSError as error:
        raise BenchError(f"cutoff connection {len(opened) + 1}: {error}") from None
    finally:
        for sock in opened:
            sock.close()
        selector.close()


def _lifetimes_over(selector: selectors.BaseSelector, opened: dict[socket.socket, float],
                    after: float) -> list[float]:
    # Generous but bounded: a proxy that never cuts fails the trial instead of hanging it.
    deadline = time.perf_counter() + after + 5
    errors: list[float] = []
    while len(errors) < len(opened):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise BenchError(f"{len(opened) - len(errors)} of {len(opened)} connections still "
                             f"open {after + 5:.0f} s after connecting")
        for key, _ in selector.select(remaining):
            try:
                data = key.fileobj.recv(64)
            except ConnectionResetError:
                raise BenchError("a connection was reset, not closed with a FIN") from None
            ended = time.perf_counter()
            if data:
                raise BenchError(f"{len(data)} unexpected bytes on an idle connection")
            selector.unregister(key.fileobj)
            errors.append((ended - opened[key.fileobj] - after) * 1000)
    return errors


def idle_link_kb(peer: Peer, endpoint: Endpoint, upstream: int, links: int) -> tuple[float, dict]:
    """Memory the proxy holds per idle link: (after - before) / links, in KB."""
    before = peer.memory_kb(endpoint)
    baseline = established_to(upstream)
    sockets = open_links(endpoint.port, links)
    try:
        # Accepted every client, and connected each to the upstream (haproxy and faultline
        # connect at accept time, socat's forks right after).
        wait_until(lambda: accept_backlog(endpoint.port) == 0
                   and established_to(upstream) >= baseline + links,
                   60, f"{links} upstream connections", endpoint.service)
        time.sleep(1.0)  # let the last links' callbacks finish allocating
        after = peer.memory_kb(endpoint)
    finally:
        for sock in sockets:
            sock.close()
    return (after - before) / links, {"before_kb": before, "after_kb": after, "links": links,
                                      "memory": peer.memory_note}


def open_links(port: int, count: int, batch: int = 500, timeout: float = 30) -> list[socket.socket]:
    """Connect `count` idle sockets, `batch` at a time so the listen queue never overflows
    (an overflowing SYN queue turns into 1 s retransmits, not failures)."""
    sockets: list[socket.socket] = []
    deadline = time.monotonic() + timeout
    try:
        while len(sockets) < count:
            group = [_connect_nonblocking(port) for _ in range(min(batch, count - len(sockets)))]
            sockets.extend(group)
            _wait_connected(group, deadline)
        return sockets
    except BaseException:
        for sock in sockets:
            sock.close()
        raise


def _connect_nonblocking(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    code = sock.connect_ex(("127.0.0.1", port))
    if code not in (0, errno.EINPROGRESS):
        sock.close()
        raise BenchError(f"connect to {port}: {errno.errorcode.get(code, code)}")
    return sock


def _wait_connected(group: list[socket.socket], deadline: float) -> None:
    poller = select.poll()
    pending = {sock.fileno(): sock for sock in group}
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"{len(pending)} idle links still not connected")
        for fd, _ in poller.poll(remaining * 1000):
            code = pending.pop(fd).getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            poller.unregister(fd)
            if code:
                raise BenchError(f"idle link failed to connect: {errno.errorcode.get(code, code)}")
