"""One function per measurement; each returns (figure, raw details) or raises BenchError."""
import csv
import errno
import io
import json
import re
import resource
import select
import selectors
import socket
import ssl
import struct
import time
from collections.abc import Callable
from pathlib import Path

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
                    tests: str, pipeline: int = 1) -> dict[str, dict]:
    """redis-benchmark's --csv rows by test name: rps, avg/min/p50/p95/p99/max latency (ms).
    `pipeline` > 1: -P, that many requests in flight on each connection."""
    out = sup.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
                   "-n", str(requests), "-t", tests, *(["-P", str(pipeline)] if pipeline > 1 else []),
                   "--csv"], timeout=150)
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
    return wrk_rate(sup, f"http://127.0.0.1:{port}/", seconds, close=True)


def wrk_rate(sup: Supervisor, url: str, seconds: int, close: bool,
             midway: Callable[[], None] | None = None) -> tuple[float, dict]:
    """Requests/s of `wrk -t1 -c50` on `url`; `close`: `Connection: close` on every request.
    `midway` is called three quarters into the run."""
    argv = ["wrk", "-t1", "-c50", f"-d{seconds}s", *(["-H", "Connection: close"] if close else []), url]
    out = sup.run_parallel([argv], timeout=seconds + 20,
                           midway=(seconds * 0.75, midway) if midway else None)[0]
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


def download_rate(port: int, size: int, timeout: float) -> tuple[float, dict]:
    """Bytes/s of one plain download of `size` bytes from harness/tls_sink.py through the proxy,
    timed from sending the request (after the connect) to the last byte; the first byte's wait
    and the rate from the first byte to the last are in the raw details."""
    header = struct.pack(">cQ", b"D", size)
    buffer = memoryview(bytearray(1 << 20))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            deadline = time.perf_counter() + timeout
            started = time.perf_counter()
            sock.sendall(header)
            first = None
            left = size
            while left > 0:
                if time.perf_counter() > deadline:
                    raise BenchError(f"{size - left} of {size} bytes in {timeout:.0f} s")
                got = sock.recv_into(buffer, min(left, len(buffer)))
                if not got:
                    raise BenchError(f"connection closed {left} bytes short of {size}")
                if first is None:
                    first = time.perf_counter()
                left -= got
            ended = time.perf_counter()
    except OSError as error:
        raise BenchError(f"download: {error}") from None
    elapsed = ended - started
    return size / elapsed, {"bytes": size, "seconds": elapsed, "first_byte_s": first - started,
                            "first_to_last_bytes_per_s": (size - 1) / max(ended - first, 1e-9)}


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


def idle_link_kb(peer: Peer, endpoint: Endpoint, upstream: int, links: int,
                 opener: Callable[[int, int], list] | None = None,
                 warmup: Callable[[int], None] | None = None) -> tuple[float, dict]:
    """Memory the proxy holds per idle link: (after - before) / links, in KB.

    `opener(port, count)` opens the links (default: plain TCP connects); `warmup(port)` runs
    before the first reading, so that what the first link allocates once (TLS's lazily loaded
    tables) is not counted per link."""
    if warmup:
        warmup(endpoint.port)
        time.sleep(0.5)
    before = peer.memory_kb(endpoint)
    baseline = established_to(upstream)
    sockets = (opener or open_links)(endpoint.port, links)
    try:
        # Accepted every client, and connected each to the upstream (haproxy and faultline
        # connect at accept time, socat's forks right after; with TLS, after the handshake).
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


# --- TLS ----------------------------------------------------------------------------------------

def tls_client_context(root: Path) -> ssl.SSLContext:
    """TLS 1.3 only, verifying the chain to faultline's root and the name localhost."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(root)
    return context


def tls_probe(sup: Supervisor, port: int, root: Path) -> dict[str, str]:
    """What one `openssl s_client` handshake negotiates: protocol, cipher, key exchange,
    signature, and whether the chain verified against `root`."""
    out = sup.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                   "-CAfile", str(root), "-verify_hostname", "localhost", "-brief"],
                  timeout=15, merge_stderr=True)
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    wanted = {"Protocol version": "protocol", "Ciphersuite": "cipher", "Server Temp Key": "group",
              "Signature type": "signature", "Verification": "verification"}
    found = {name: fields.get(key, "?").strip() for key, name in wanted.items()}
    if found["protocol"] == "?":
        raise BenchError(f"openssl s_client negotiated nothing: {out.strip()[-200:]}")
    return found


def full_handshakes(sup: Supervisor, port: int, seconds: int, clients: int, root: Path,
                    midway: Callable[[], None] | None = None) -> tuple[float, dict]:
    """New connections/s of `clients` `openssl s_time -new` side by side: each connection a
    full TLS 1.3 handshake (s_time -new never offers a session), one `GET /`, its answer, close.

    s_time runs until a whole-second boundary past -time, and prints only whole seconds, so
    the rate is the summed count over the wall time from starting the clients to the last
    one's end (their start-up, a few ms, included). `midway` is called three quarters into the run."""
    argv = ["openssl", "s_time", "-connect", f"localhost:{port}", "-new", "-tls1_3",
            "-CAfile", str(root), "-no-CApath", "-no-CAstore", "-time", str(seconds), "-www", "/"]
    started = time.monotonic()
    outs = sup.run_parallel([argv] * clients, timeout=seconds + 30,
                            midway=(seconds * 0.75, midway) if midway else None)
    wall = time.monotonic() - started
    counts = []
    for out in outs:
        match = re.search(r"(\d+) connections in \d+ real seconds, (\d+) bytes read per", out)
        if not match:
            raise BenchError(f"unexpected s_time output: {out.strip()[-200:]}")
        if int(match.group(2)) == 0:
            raise BenchError("s_time read no answer to its GET through the proxy")
        counts.append(int(match.group(1)))
    return sum(counts) / wall, {"connections": counts, "wall_s": wall, "clients": clients}


BULK_CHUNK = 1 << 20


def tls_bulk_gbps(port: int, upload: bool, size: int, root: Path) -> tuple[float, dict]:
    """One TLS connection (Python's ssl) through the proxy to harness/tls_sink.py, `size` bytes
    one way: upload = client -> sink (the proxy decrypts), else sink -> client (it encrypts).

    Timed from the request to the sink's one-byte receipt (upload) or the last byte (download),
    after the handshake."""
    context = tls_client_context(root)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as sock:
            cipher, version, _ = sock.cipher()
            started, cpu = time.perf_counter(), _own_cpu()
            sock.sendall(struct.pack(">cQ", b"U" if upload else b"D", size))
            left = size
            if upload:
                chunk = memoryview(bytes(BULK_CHUNK))
                while left > 0:
                    sock.sendall(chunk[:min(left, BULK_CHUNK)])
                    left -= min(left, BULK_CHUNK)
                if sock.recv(1) != b"K":
                    raise BenchError("the sink did not confirm the upload")
            else:
                buffer = memoryview(bytearray(BULK_CHUNK))
                while left > 0:
                    got = sock.recv_into(buffer, min(left, BULK_CHUNK))
                    if not got:
                        raise BenchError(f"connection closed {left} bytes short")
                    left -= got
            elapsed, cpu = time.perf_counter() - started, _own_cpu() - cpu
    except (OSError, ssl.SSLError) as error:
        raise BenchError(f"TLS bulk {'upload' if upload else 'download'}: {error}") from None
    # The client's CPU share says whether it, not the proxy, set the pace (1.0 = a full core).
    return size * 8 / elapsed / 1e9, {"bytes": size, "seconds": elapsed, "cipher": cipher,
                                      "version": version, "client_cpu_share": cpu / elapsed}


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def tls_warmup(root: Path) -> Callable[[int], None]:
    """One TLS handshake and close, before the idle-link memory's first reading."""
    def warm(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                tls_client_context(root).wrap_socket(raw, server_hostname="localhost"):
            pass
    return warm


def tls_link_opener(root: Path, batch: int = 100, timeout: float = 60) -> Callable[[int, int], list]:
    """`count` idle TLS connections, handshakes done, `batch` at a time (non-blocking)."""
    context = tls_client_context(root)

    def open_tls(port: int, count: int) -> list:
        links: list = []
        deadline = time.monotonic() + timeout
        try:
            while len(links) < count:
                group = [_connect_nonblocking(port) for _ in range(min(batch, count - len(links)))]
                try:
                    _wait_connected(group, deadline)
                except BaseException:
                    for sock in group:
                        sock.close()
                    raise
                group = [context.wrap_socket(sock, server_hostname="localhost",
                                             do_handshake_on_connect=False) for sock in group]
                links.extend(group)
                _handshake_all(group, deadline)
            return links
        except BaseException:
            for sock in links:
                sock.close()
            raise
    return open_tls


def _handshake_all(group: list[ssl.SSLSocket], deadline: float) -> None:
    selector = selectors.DefaultSelector()
    pending = set(group)
    try:
        while pending:
            if time.monotonic() > deadline:
                raise BenchError(f"{len(pending)} TLS handshakes still not done")
            for sock in list(pending):
                try:
                    sock.do_handshake()
                except ssl.SSLWantReadError:
                    _watch(selector, sock, selectors.EVENT_READ)
                except ssl.SSLWantWriteError:
                    _watch(selector, sock, selectors.EVENT_WRITE)
                except (OSError, ssl.SSLError) as error:
                    raise BenchError(f"idle TLS link's handshake failed: {error}") from None
                else:
                    pending.discard(sock)
                    if _registered(selector, sock):
                        selector.unregister(sock)
            if pending:
                selector.select(max(0.0, min(1.0, deadline - time.monotonic())))
    finally:
        selector.close()


def _registered(selector: selectors.BaseSelector, sock: socket.socket) -> bool:
    try:
        selector.get_key(sock)
        return True
    except KeyError:
        return False


def _watch(selector: selectors.BaseSelector, sock: socket.socket, events: int) -> None:
    if _registered(selector, sock):
        selector.modify(sock, events)
    else:
        selector.register(sock, events)


# --- HTTP (the http section) ------------------------------------------------------------------

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}  # -> ms
_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}


def wrk_http(sup: Supervisor, url: str, threads: int, connections: int,
             seconds: int) -> dict:
    """`wrk -tT -cC -dDs --latency URL`, keep-alive: requests/s, p50/p90/p99 latency (ms),
    transfer (bytes/s), the request count and every error wrk reports (socket errors by kind,
    non-2xx/3xx responses). Errors are returned, not raised: the table shows them."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    out = sup.run(argv, timeout=seconds + 30)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out)
    transfer = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    percentiles = {int(p): float(v) * _TIME_UNITS[unit]
                   for p, v, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(\w+)\s*$", out, re.M)}
    if not rate or not total or not transfer or set(percentiles) != {50, 75, 90, 99}:
        raise BenchError(f"unexpected wrk output: {out.strip()[-300:]}")
    errors = {kind: int(n) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", out)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    return {"rps": float(rate.group(1)), "requests": int(total.group(1)),
            "read_bytes": float(total.group(4)) * _SIZE_UNITS[total.group(5)],
            "transfer_bytes_per_s": float(transfer.group(1)) * _SIZE_UNITS[transfer.group(2)],
            "p50_ms": percentiles[50], "p75_ms": percentiles[75], "p90_ms": percentiles[90],
            "p99_ms": percentiles[99], "errors": errors, "error_count": sum(errors.values()),
            "argv": " ".join(argv)}
