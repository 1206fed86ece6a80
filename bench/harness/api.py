"""The api section: the control API under load, `faultline serve` against Toxiproxy.

Both servers get the same calls from the same client: one proxy `bench` in front of a
redis-server, made with `POST /proxies`, with a 1 s downstream latency toxic on it from the start.
Then, on one keep-alive HTTP/1.1 connection (a small raw-socket client: one request in flight,
no pipelining):

- 1 s of both calls below, not measured (a warm-up);
- `GET /proxies` as fast as answers come, for a fixed time (5 s; BENCH_QUICK=1: 2 s);
- toxic add + remove cycles (`POST /proxies/bench/toxics` a latency toxic `cycle`, then
  `DELETE /proxies/bench/toxics/cycle`) for the same time;

each first with no client connection through the proxy, then again with 500 idle ones open
(every toxic change reaches every open link, so this is where the number of links shows); and
last, with the 500 links open, the time from sending `POST /proxies/bench {"enabled":false}` to
the first connect() refused (ECONNREFUSED), to the answer, and to the last of the 500 links
closed, a few times (re-enabling and reopening the links in between).

The server's CPU time (/proc/PID/stat, all threads) over each run, per request or cycle, is the
CPU row under it: its own cost, whatever share of the CPUs the Python client left it.
"""
import json
import resource
import selectors
import socket
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .measures import open_links
from .procfs import accept_backlog, cpu_seconds, established_to, wait_listening, wait_until
from .procs import BenchError
from .report import cell_text, footnote_lines, grid, section_json
from .servers import APIPeer, FaultlineServe, Peer, Toxiproxy
from .suites import Metric, Runner, Settings, Suite, Trial

SERVE, TOXIPROXY = "faultline-serve", "toxiproxy"
PROXY = APIPeer.PROXY
HELD = {"name": "latency_1s", "type": "latency", "stream": "downstream",
        "attributes": {"latency": 1000}}
CYCLED = {"name": "cycle", "type": "latency", "stream": "downstream", "attributes": {"latency": 10}}
DISABLE_DEADLINE_S = 10.0
WARM_UP_S = 1.0
PROBE_PAUSE_S = 0.0001  # between two connect() probes of the disabled proxy's port


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class APISection:
    settings: Settings
    load_start: float = field(default_factory=_loadavg)
    load_end: float = 0.0


def make_api_section(settings: Settings, faultline: str,
                     toxiproxy: str | None) -> tuple[APISection, list[Peer], list[Suite]]:
    peers: list[Peer] = [FaultlineServe(faultline, toxics=(HELD,))]
    if toxiproxy:
        peers.append(Toxiproxy(toxiproxy, toxics=(HELD,)))
    section = APISection(settings)
    links = settings.api_idle_links
    rate = dict(unit="req/s", digits=0)
    cpu = dict(unit="µs", digits=1, higher_is_better=False)
    ms = dict(unit="ms", digits=2, higher_is_better=False)
    metrics = []
    for open_ in (0, links):
        metrics += [
            Metric(f"get_{open_}", f"GET /proxies, {open_} links open, req/s", **rate),
            Metric(f"get_{open_}_cpu", "  server CPU per request, µs (lower=better)", **cpu),
            Metric(f"cycle_{open_}", f"toxic add+remove, {open_} links open, cycles/s",
                   unit="cycles/s", digits=0),
            Metric(f"cycle_{open_}_cpu", "  server CPU per cycle, µs (lower=better)", **cpu),
        ]
    metrics += [
        Metric("disable_refused", f"disable -> ECONNREFUSED, {links} links open, ms "
               "(lower=better)", **ms),
        Metric("disable_answer", "  disable -> its answer, ms (lower=better)", **ms),
        Metric("disable_closed", f"  disable -> all {links} links closed, ms (lower=better)", **ms),
    ]
    return section, peers, [Suite("api", "redis", metrics, _measure(section))]


# --- the client ----------------------------------------------------------------------------------

class KeepAlive:
    """HTTP/1.1 on one connection, one request at a time; reconnects (and counts it) only if
    the server closes."""

    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.connections = 0
        self.buffer = b""
        self.sent = ""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections += 1
        self.buffer = b""
        return sock

    def close(self) -> None:
        if self.sock:
            self.sock.close()
            self.sock = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        self.send(method, path, body)
        return self.receive()

    def send(self, method: str, path: str, body: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                + (f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                   if body is not None else "") + "\r\n").encode()
        self.sent = f"{method} {path}"
        try:
            if self.sock is None:
                self.sock = self._connect()
            self.sock.sendall(head + data)
        except OSError as error:
            self.close()
            raise BenchError(f"{self.sent}: {error}") from None

    def receive(self) -> tuple[int, bytes]:
        """The answer to what `send` sent (blocking)."""
        try:
            status, headers, payload = self._response()
        except OSError as error:
            self.close()
            raise BenchError(f"{self.sent}: {error}") from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise BenchError("the API closed the connection mid-answer")
        self.buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            self._fill()
        line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
        return line

    def _response(self) -> tuple[int, dict[str, str], bytes]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
        status_line, *fields = head.split("\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in fields:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            payload = b""
            while size := int(self._line().split(b";")[0], 16):
                payload += self._take(size)
                self._line()
            while self._line():  # trailers, then the empty line
                pass
        else:
            payload = self._take(int(headers.get("content-length", "0")))
        return status, headers, payload


def _expect(answer: tuple[int, bytes], status: int, what: str) -> None:
    if answer[0] != status:
        raise BenchError(f"{what}: {answer[0]} {answer[1][:200]!r}, expected {status}")


# --- what is measured ----------------------------------------------------------------------------

def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _loop(t: Trial, client: KeepAlive, seconds: float, once) -> tuple[float, float, dict]:
    """Runs `once()` back to back for `seconds`: (per second, server CPU µs per call, raw)."""
    pid = t.endpoint.service.pid
    server, own = cpu_seconds(pid), _own_cpu()
    connections = client.connections
    calls = 0
    started = time.perf_counter()
    ends = started + seconds
    while (now := time.perf_counter()) < ends:
        once()
        calls += 1
    elapsed = now - started
    server, own = cpu_seconds(pid) - server, _own_cpu() - own
    return calls / elapsed, server * 1e6 / calls, {
        "calls": calls, "seconds": elapsed, "server_cpu_s": server,
        "server_cpu_share": server / elapsed, "client_cpu_share": own / elapsed,
        "reconnects": client.connections - connections}


def _gets(t: Trial, client: KeepAlive, open_: int):
    def once():
        _expect(client.request("GET", "/proxies"), 200, "GET /proxies")
    rate, cpu, raw = _loop(t, client, t.settings.api_seconds, once)
    yield f"get_{open_}", rate, raw
    yield f"get_{open_}_cpu", cpu, raw


def _cycles(t: Trial, client: KeepAlive, open_: int):
    def once():
        _expect(client.request("POST", f"/proxies/{PROXY}/toxics", CYCLED), 200, "add the toxic")
        _expect(client.request("DELETE", f"/proxies/{PROXY}/toxics/{CYCLED['name']}"), 204,
                "remove the toxic")
    rate, cpu, raw = _loop(t, client, t.settings.api_seconds, once)
    yield f"cycle_{open_}", rate, raw
    yield f"cycle_{open_}_cpu", cpu, raw


def _warm_up(client: KeepAlive) -> None:
    """Both kinds of call for WARM_UP_S, not measured, so that the first measured run does not
    also pay for the server's (and the client's) first calls."""
    ends = time.perf_counter() + WARM_UP_S
    while time.perf_counter() < ends:
        _expect(client.request("GET", "/proxies"), 200, "GET /proxies")
        _expect(client.request("POST", f"/proxies/{PROXY}/toxics", CYCLED), 200, "add the toxic")
        _expect(client.request("DELETE", f"/proxies/{PROXY}/toxics/{CYCLED['name']}"), 204,
                "remove the toxic")


def _open(t: Trial, count: int) -> list[socket.socket]:
    """`count` idle links through the proxy, each connected on to the upstream."""
    baseline = established_to(t.upstream_port)
    links = open_links(t.endpoint.port, count)
    try:
        wait_until(lambda: accept_backlog(t.endpoint.port) == 0
                   and established_to(t.upstream_port) >= baseline + count,
                   30, f"{count} upstream connections", t.endpoint.service)
    except BaseException:
        for sock in links:
            sock.close()
        raise
    time.sleep(0.5)
    return links


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        return False


def _disable(t: Trial, client: KeepAlive, links: list[socket.socket]) -> dict:
    """Disables the proxy with `links` open: ms from sending the request to the first refused
    connect(), to the first byte of the answer, to the last link closed (EOF or reset). One
    thread: probes, the links and the API connection are polled in turn."""
    port = t.endpoint.port
    selector = selectors.DefaultSelector()
    for sock in links:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, "link")
    refused = closed = answered = None
    open_ = len(links)
    probes = 0
    try:
        client.send("POST", f"/proxies/{PROXY}", {"enabled": False})
        started = time.perf_counter()
        selector.register(client.sock, selectors.EVENT_READ, "api")
        while time.perf_counter() - started < DISABLE_DEADLINE_S:
            if refused is None:
                probes += 1
                if _refused(port):
                    refused = time.perf_counter()
            for key, _ in selector.select(0):
                if key.data == "api":
                    answered = time.perf_counter()
                    selector.unregister(key.fileobj)
                    continue
                try:
                    data = key.fileobj.recv(4096)
                except ConnectionError:
                    data = b""
                if not data:
                    selector.unregister(key.fileobj)
                    open_ -= 1
            if open_ == 0 and closed is None:
                closed = time.perf_counter()
            if refused is not None and closed is not None and answered is not None:
                break
            time.sleep(PROBE_PAUSE_S)
    finally:
        selector.close()
    if answered is None:
        raise BenchError(f"no answer to the disable within {DISABLE_DEADLINE_S:.0f} s")
    _expect(client.receive(), 200, "disable the proxy")
    ms = lambda at: None if at is None else (at - started) * 1000  # noqa: E731
    return {"refused_ms": ms(refused), "answer_ms": ms(answered), "closed_ms": ms(closed),
            "still_open": open_, "probes": probes}


def _measure(section: APISection):
    def measure(t: Trial):
        s = t.settings
        client = KeepAlive(t.endpoint.api)
        links: list[socket.socket] = []
        try:
            _expect(client.request("GET", f"/proxies/{PROXY}/toxics"), 200, "list the toxics")
            _warm_up(client)
            yield from _gets(t, client, 0)
            yield from _cycles(t, client, 0)
            links = _open(t, s.api_idle_links)
            yield from _gets(t, client, s.api_idle_links)
            yield from _cycles(t, client, s.api_idle_links)
            samples = []
            for repeat in range(s.api_disable_repeats):
                if repeat:
                    _expect(client.request("POST", f"/proxies/{PROXY}", {"enabled": True}), 200,
                            "enable the proxy")
                    wait_listening(t.endpoint.service, t.endpoint.port)
                    links = _open(t, s.api_idle_links)
                samples.append(_disable(t, client, links))
                for sock in links:
                    sock.close()
                links = []
            raw = {"disables": samples}
            for key, name in (("refused_ms", "disable_refused"), ("answer_ms", "disable_answer")):
                yield name, statistics.median(sample[key] for sample in samples), raw
            if any(sample["closed_ms"] is None for sample in samples):
                left = max(sample["still_open"] for sample in samples)
                raise BenchError(f"{left} of {s.api_idle_links} links still open "
                                 f"{DISABLE_DEADLINE_S:.0f} s after the disable")
            yield "disable_closed", statistics.median(sample["closed_ms"] for sample in samples), raw
        finally:
            for sock in links:
                sock.close()
            client.close()
            section.load_end = _loadavg()
    return measure


# --- the table -----------------------------------------------------------------------------------

def render_api(section: APISection, runner: Runner) -> str:
    s = section.settings
    peers = list(next(iter(runner.results.values())))
    footnotes: dict[str, int] = {}
    rows = [["control API", *peers]]
    for metric in runner.metrics:
        rows.append([metric.label, *(cell_text(metric, runner.results[metric.key], peer, footnotes,
                                               references=((TOXIPROXY, "t"),))
                                     for peer in peers)])
    warning = " -- figures are noisy" if runner.others_percent > 5 else ""
    lines = [f"other processes used {runner.others_percent:.0f}% of the CPU time during this "
             f"section{warning}; load average {section.load_start:.2f} at its start, "
             f"{section.load_end:.2f} at its end",
             *grid(rows), *footnote_lines(footnotes), "",
             f"One proxy `{PROXY}` (redis-server behind it) made with POST /proxies, a 1 s "
             "downstream latency toxic on it from the start. One keep-alive HTTP/1.1 connection "
             "(Python, one request in flight).",
             f"GET /proxies and toxic add+remove cycles (POST /proxies/{PROXY}/toxics a latency "
             f"toxic, DELETE it) back to back for {s.api_seconds} s each, with 0 and then "
             f"{s.api_idle_links} idle links open through the proxy.",
             f"disable: POST /proxies/{PROXY} {{\"enabled\":false}} with {s.api_idle_links} links "
             f"open; ms from sending it to the first connect() refused (probed every "
             f"{PROBE_PAUSE_S * 1000:g} ms), to its answer's first byte, to the last link closed; "
             f"median of {s.api_disable_repeats}.",
             "server CPU: its user + system time over the run (/proc/PID/stat) per request or cycle. "
             "Cells: figure (ratio to toxiproxy ×t); for lower=better rows above 1 is worse."]
    if runner.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in runner.notes)]
    return "\n".join(lines)


def api_json(section: APISection, runner: Runner, table: str) -> dict:
    return {**section_json(runner, table), "load_start": section.load_start,
            "load_end": section.load_end}
