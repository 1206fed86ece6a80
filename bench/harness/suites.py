"""What is measured, in which order, and how trials become one figure per (metric, peer).

A suite is one or more metrics that share an upstream. Each trial starts a fresh upstream and
a fresh proxy, measures, and stops both, so a crash or a leak in one trial cannot bleed into
the next, and peers run strictly one after another (the machine has few cores). Repeats go
round-robin over the peers, so a burst of background load hits every peer a little rather
than one peer's every run, and each repeat starts one peer later, so no peer always runs last.
"""
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .load import LoadMeter
from .measures import connection_rate, idle_link_kb, iperf_gbps, redis_benchmark
from .procs import BenchError, Service, Supervisor
from .procfs import proxy_cpu_seconds
from .servers import UPSTREAMS, Direct, Endpoint, Peer, Socat


@dataclass(frozen=True)
class Settings:
    quick: bool
    iperf_seconds: int
    iperf_repeats: int
    redis_requests: int
    latency_requests: int
    connection_seconds: int
    idle_links: int
    budget_seconds: int  # no new trial starts after this; keeps the section under 9 minutes
    # The fault section's iperf3 runs are shorter, so that it alone takes about a minute.
    fault_iperf_seconds: int
    fault_iperf_repeats: int
    fault_budget_seconds: int
    # The TLS section (harness/tls.py).
    tls_seconds: int  # each wrk and s_time run
    tls_handshake_clients: int  # s_time processes side by side
    tls_bulk_mib: int  # bytes each way through one TLS connection
    tls_repeats: int  # of the rate and bulk rows, round-robin over the peers
    tls_idle_links: int
    tls_budget_seconds: int
    tls_key: str  # the certificate's key type, ec or rsa (BENCH_TLS_KEY)
    # The Redis section (harness/redis.py): redis-benchmark -c 50 -t set,get, -n per test.
    redis_pipelined_requests: int  # with -P 16
    redis_plain_requests: int  # without pipelining
    redis_repeats: int  # rounds, peers interleaved
    redis_settle_seconds: float  # pause before each run
    redis_budget_seconds: int
    # The HTTP section (harness/http.py): wrk -t2 -c64 --latency against nginx, per body size.
    http_seconds: int  # each wrk run (-d)
    http_repeats: int  # rounds, peers interleaved
    http_settle_seconds: float  # pause before each run
    http_budget_seconds: int
    http_retry_seconds: int  # at most, spent running disturbed runs again
    http_nginx_workers: int  # BENCH_HTTP_NGINX_WORKERS, default 1
    # The api section (harness/api.py): the control API of faultline serve and Toxiproxy.
    api_seconds: int  # each run of GET /proxies or of toxic add+remove cycles
    api_idle_links: int  # open through the proxy in the second half
    api_disable_repeats: int  # disable -> ECONNREFUSED samples
    api_budget_seconds: int

    @classmethod
    def from_env(cls) -> "Settings":
        key = os.environ.get("BENCH_TLS_KEY", "ec")
        if key not in ("ec", "rsa"):
            raise SystemExit(f"BENCH_TLS_KEY={key}: expected ec or rsa")
        workers = os.environ.get("BENCH_HTTP_NGINX_WORKERS", "1")
        if not workers.isdigit() or int(workers) < 1:
            raise SystemExit(f"BENCH_HTTP_NGINX_WORKERS={workers}: expected a positive number")
        if os.environ.get("BENCH_QUICK") == "1":
            return cls(True, 2, 1, 50_000, 5_000, 2, 5_000, 150, 2, 1, 150,
                       tls_seconds=2, tls_handshake_clients=4, tls_bulk_mib=256, tls_repeats=1,
                       tls_idle_links=2_000, tls_budget_seconds=90, tls_key=key,
                       redis_pipelined_requests=200_000, redis_plain_requests=25_000,
                       redis_repeats=1, redis_settle_seconds=0.5, redis_budget_seconds=90,
                       http_seconds=3, http_repeats=1, http_settle_seconds=0.5,
                       http_budget_seconds=150, http_retry_seconds=40,
                       http_nginx_workers=int(workers),
                       api_seconds=2, api_idle_links=500, api_disable_repeats=1,
                       api_budget_seconds=40)
        return cls(False, 5, 3, 200_000, 20_000, 5, 5_000, 480, 3, 3, 270,
                   tls_seconds=3, tls_handshake_clients=4, tls_bulk_mib=1024, tls_repeats=3,
                   tls_idle_links=2_000, tls_budget_seconds=300, tls_key=key,
                   redis_pipelined_requests=800_000, redis_plain_requests=100_000,
                   redis_repeats=3, redis_settle_seconds=1.0, redis_budget_seconds=270,
                   http_seconds=10, http_repeats=3, http_settle_seconds=1.0,
                   http_budget_seconds=720, http_retry_seconds=240,
                   http_nginx_workers=int(workers),
                   api_seconds=5, api_idle_links=500, api_disable_repeats=3,
                   api_budget_seconds=80)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    digits: int
    higher_is_better: bool = True


@dataclass
class Trial:
    sup: Supervisor
    settings: Settings
    peer: Peer
    endpoint: Endpoint
    upstream_port: int
    repeat: int = 1  # which round of the suite, from 1


Measure = Callable[[Trial], Iterator[tuple[str, float, dict]]]


@dataclass(frozen=True)
class Suite:
    name: str
    upstream: str  # key of servers.UPSTREAMS
    metrics: list[Metric]
    measure: Measure
    repeats: int = 1
    needs_proxy: bool = False  # True where "direct" has nothing to measure
    # Peers to run on instead of the runner's, e.g. started with a fault; each has the name of
    # one of the runner's peers, whose column it fills.
    peers: list[Peer] | None = None


@dataclass
class Cell:
    """Every sample and error one peer got for one metric."""

    samples: list[float] = field(default_factory=list)
    raw: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def value(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


# --- the measurements ------------------------------------------------------------------------

def _proxy_cpu(t: Trial) -> float | None:
    """The proxy's CPU seconds so far (None for direct: no proxy)."""
    service = t.endpoint.service
    return proxy_cpu_seconds(service.pid) if service is not None else None


def _cpu_over(t: Trial, before: float | None) -> float | None:
    """The proxy's CPU seconds since `before`, once a fork that served the run (socat) has had
    a moment to exit and be reaped."""
    if before is None:
        return None
    if isinstance(t.peer, Socat):
        time.sleep(0.5)
    return _proxy_cpu(t) - before


def _throughput(t: Trial):
    for streams, key in ((1, "iperf_1"), (4, "iperf_4")):
        before = _proxy_cpu(t)
        gbps, raw = iperf_gbps(t.sup, t.endpoint.port, t.settings.iperf_seconds, streams)
        cpu = _cpu_over(t, before)
        yield key, gbps, {**raw, "proxy_cpu_s": cpu}
        if streams == 1 and cpu is not None:
            # CPU ms per GB (10^9 bytes) received
            yield "iperf_1_cpu", cpu * 1e3 / (raw["bytes"] / 1e9), {"proxy_cpu_s": cpu, **raw}


def _redis(t: Trial):
    before = _proxy_cpu(t)
    rows = redis_benchmark(t.sup, t.endpoint.port, 50, t.settings.redis_requests, "set,get")
    cpu = _cpu_over(t, before)
    yield "redis_set", rows["SET"]["rps"], rows["SET"]
    yield "redis_get", rows["GET"]["rps"], rows["GET"]
    if cpu is not None:
        requests = 2 * t.settings.redis_requests  # -n each for SET and GET
        yield "redis_cpu", cpu * 1e6 / requests, {"proxy_cpu_s": cpu, "requests": requests}
    get = redis_benchmark(t.sup, t.endpoint.port, 1, t.settings.latency_requests, "get")["GET"]
    if "p50_latency_ms" not in get:
        raise BenchError("this redis-benchmark prints no p50 in --csv (needs redis-tools >= 7)")
    yield "redis_p50", get["p50_latency_ms"], get
    yield "redis_mean", get["avg_latency_ms"], get


def _connections(t: Trial):
    before = _proxy_cpu(t)
    rate, raw = connection_rate(t.sup, t.endpoint.port, t.settings.connection_seconds)
    cpu = _cpu_over(t, before)
    yield "conn_rate", rate, raw
    if cpu is not None:
        yield "conn_cpu", cpu * 1e6 / raw["requests"], {"proxy_cpu_s": cpu, **raw}


def _idle(t: Trial):
    yield "idle_kb", *idle_link_kb(t.peer, t.endpoint, t.upstream_port, t.settings.idle_links)


def make_suites(s: Settings) -> list[Suite]:
    cpu = dict(higher_is_better=False)
    return [
        Suite("throughput", "iperf3", [
            Metric("iperf_1", "iperf3 1 stream, Gbit/s", "Gbit/s", 2),
            Metric("iperf_1_cpu", "  proxy CPU per GB, 1 stream, ms (lower=better)", "ms/GB", 1,
                   **cpu),
            Metric("iperf_4", "iperf3 -P 4, Gbit/s", "Gbit/s", 2),
        ], _throughput, repeats=s.iperf_repeats),
        Suite("redis", "redis", [
            Metric("redis_set", "redis -c 50 SET, req/s", "req/s", 0),
            Metric("redis_get", "redis -c 50 GET, req/s", "req/s", 0),
            Metric("redis_cpu", "  proxy CPU per request, -c 50, µs (lower=better)", "µs", 2,
                   **cpu),
            Metric("redis_p50", "redis -c 1 GET p50, ms (lower=better)", "ms", 3,
                   higher_is_better=False),
            Metric("redis_mean", "redis -c 1 GET mean, ms (lower=better)", "ms", 3,
                   higher_is_better=False),
        ], _redis),
        Suite("connections", "http", [
            Metric("conn_rate", "new conns/s (wrk, Connection: close)", "conn/s", 0),
            Metric("conn_cpu", "  proxy CPU per connection, µs (lower=better)", "µs", 1, **cpu),
        ], _connections),
        Suite("idle", "redis", [
            Metric("idle_kb", "memory per idle link, KB (lower=better)", "KB", 2,
                   higher_is_better=False),
        ], _idle, needs_proxy=True),
    ]


# --- running ---------------------------------------------------------------------------------

@dataclass
class Runner:
    sup: Supervisor
    settings: Settings
    peers: list[Peer]  # the columns
    budget_seconds: int  # no new trial starts after this
    results: dict[str, dict[str, Cell]] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)  # the rows, in the suites' order
    notes: list[str] = field(default_factory=list)  # misbehaviour seen outside a figure
    others_percent: float = 0.0  # CPU other processes took while `run` ran

    def __post_init__(self):
        self.deadline = time.monotonic() + self.budget_seconds

    def run(self, suites: list[Suite]) -> None:
        load = LoadMeter()
        for suite in suites:
            for metric in suite.metrics:
                self.metrics.append(metric)
                self.results[metric.key] = {peer.name: Cell() for peer in self.peers}
            peers = [peer for peer in suite.peers or self.peers
                     if not (suite.needs_proxy and isinstance(peer, Direct))]
            for repeat in range(1, suite.repeats + 1):
                # Each repeat starts one peer later, so that none always runs first or last
                # (after the others' TIME_WAIT sockets, or right after a quiet pause).
                shift = (repeat - 1) % len(peers)
                for peer in peers[shift:] + peers[:shift]:
                    self._trial(suite, peer, f"{suite.name}{repeat}", repeat)
        self.others_percent = load.others_percent()

    def _trial(self, suite: Suite, peer: Peer, tag: str, repeat: int = 1) -> None:
        if time.monotonic() > self.deadline:
            self._fail(suite, peer, set(), "skipped: time budget spent")
            return
        print(f"  {tag:<13} {peer.name:<19}", end="", flush=True)
        done: set[str] = set()
        upstream = endpoint = failure = None
        try:
            upstream = UPSTREAMS[suite.upstream](self.sup, tag)
            endpoint = peer.start(self.sup, upstream.port, tag)
            for key, value, raw in suite.measure(Trial(self.sup, self.settings, peer, endpoint,
                                                       upstream.port, repeat)):
                self._record(key, peer, value, raw)
                done.add(key)
                print(f" {key}={value:.4g}", end="", flush=True)
            print()
        except BenchError as error:
            failure = _blame(endpoint, error)
            self._fail(suite, peer, done, failure)
            print(f" FAILED: {failure}")
        finally:
            if endpoint and endpoint.service:
                self._stop_proxy(endpoint.service, tag, reported=failure is not None)
            if upstream:
                self.sup.stop(upstream)

    def _stop_proxy(self, service: Service, tag: str, reported: bool) -> None:
        died = service.exit_note()
        self.sup.stop(service)
        code = service.proc.returncode
        # A clean stop is exit 0 or death by our SIGTERM (socat exits 128+15). A proxy gone
        # before we stopped it, or stopping badly, is worth a line unless a cell says it.
        if died and not reported:
            self.notes.append(f"{tag}: {died} (after its figures were taken)")
        elif not died and code not in (0, -15, 143):
            self.notes.append(f"{tag}: {service.name} exited with code {code} when stopped "
                              f"(log {service.log_path})")

    def _record(self, key: str, peer: Peer, value: float, raw: dict) -> None:
        cell = self.results[key][peer.name]
        cell.samples.append(value)
        cell.raw.append(raw)

    def _fail(self, suite: Suite, peer: Peer, done: set[str], message: str) -> None:
        for metric in suite.metrics:
            if metric.key not in done:
                self.results[metric.key][peer.name].errors.append(message)


def _blame(endpoint: Endpoint | None, error: BenchError) -> str:
    """A client failing because the proxy died is the proxy's failure. A crashing Swift binary
    first prints its backtrace, so give it a moment to finish dying before asking."""
    service = endpoint.service if endpoint else None
    if service is None:
        return str(error)
    try:
        service.proc.wait(3)
    except subprocess.TimeoutExpired:
        return str(error)
    return service.exit_note() or str(error)
