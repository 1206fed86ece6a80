"""The Redis section: what framing every command and reply costs.

`faultline proxy --protocol redis` parses each command and each reply on its way (so that
redis.* faults can act per command); `--protocol tcp` (the default) copies small messages
through and splices bulk. Both run here against a real redis-server (no persistence), beside
a direct connection and HAProxy in `mode tcp`, with redis-benchmark -c 50 -t set,get, pipelined
(-P 16) and not.

Columns:
- direct: redis-benchmark to redis-server, no proxy (the ceiling);
- haproxy: `mode tcp`, its default threads (one per CPU); haproxy-1t: the same, nbthread 1,
  like for like with faultline's one event loop;
- faultline-tcp: `--protocol tcp`;
- faultline-redis: `--protocol redis`, no fault;
- faultline-redis+fault: `--protocol redis --fault redis.error:error=LOADING,commands=FLUSHALL`,
  a fault that matches no command the benchmark sends: the cost of having a fault to consult.
  Each trial checks that it is live (FLUSHALL through it must answer -LOADING).

Each trial starts a fresh redis-server and proxy, pauses (settle), runs the pipelined
benchmark, pauses, runs the unpipelined one; the proxy's CPU time (/proc/PID/stat) over each
run, per request, is the CPU row. Rounds go over every peer, each round starting one peer later.
"""
import socket
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from .measures import redis_benchmark
from .procfs import cpu_seconds
from .procs import BenchError
from .report import footnote, footnote_lines, grid, section_json
from .servers import Direct, Faultline, HAProxy, Peer
from .suites import Cell, Metric, Runner, Settings, Suite, Trial

DIRECT, HAPROXY, HAPROXY_1T = "direct", "haproxy", "haproxy-1t"
TCP, REDIS, FAULTED = "faultline-tcp", "faultline-redis", "faultline-redis+fault"
CLIENTS, PIPELINE = 50, 16
# Matches nothing redis-benchmark -t set,get sends (it sends CONFIG GET, SET, GET).
IDLE_FAULT = "redis.error:error=LOADING,commands=FLUSHALL"

# (metric key, label, pipelined, test): the rate rows
RATES = (("set_p16", f"SET -P{PIPELINE}, req/s", True, "SET"),
         ("get_p16", f"GET -P{PIPELINE}, req/s", True, "GET"),
         ("set", "SET, req/s", False, "SET"),
         ("get", "GET, req/s", False, "GET"))
CPUS = (("cpu_p16", f"proxy CPU per request -P{PIPELINE}, µs (lower=better)", True),
        ("cpu", "proxy CPU per request, µs (lower=better)", False))

# The ratios printed under the table: (numerator column, denominator column, heading)
RATIOS = ((REDIS, TCP, "redis/tcp"), (FAULTED, TCP, "redis+fault/tcp"),
          (REDIS, HAPROXY, "redis/haproxy"), (REDIS, HAPROXY_1T, "redis/haproxy-1t"),
          (TCP, HAPROXY, "tcp/haproxy"), (FAULTED, REDIS, "redis+fault/redis"))
# The targets: (rows, reference column, at least)
TARGETS = ((("set_p16", "get_p16", "set", "get"), TCP, 0.8),
           (("set", "get"), HAPROXY, 1.0),
           (("set", "get"), HAPROXY_1T, 1.0))


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass
class RedisSection:
    settings: Settings
    load_start: float = field(default_factory=_loadavg)
    load_end: float = 0.0


def make_redis_section(settings: Settings, faultline: str) -> tuple[RedisSection, list[Peer], list[Suite]]:
    # 50 links at a time: any maxconn will do.
    peers: list[Peer] = [
        Direct(), HAProxy(maxconn=1000), HAProxy(maxconn=1000, threads=1),
        Faultline(faultline, protocol="tcp", name=TCP),
        Faultline(faultline, protocol="redis", name=REDIS),
        Faultline(faultline, protocol="redis", faults=(IDLE_FAULT,), name=FAULTED),
    ]
    section = RedisSection(settings)
    rate = dict(unit="req/s", digits=0)
    cpu = dict(unit="µs", digits=2, higher_is_better=False)
    metrics = [Metric(key, label, **rate) for key, label, _, _ in RATES]
    metrics += [Metric(key, "  " + label, **cpu) for key, label, _ in CPUS]
    return section, peers, [Suite("redis", "redis", metrics, _measure(section),
                                  repeats=settings.redis_repeats)]


# --- what is measured ------------------------------------------------------------------------

def _ask(port: int, command: bytes) -> bytes:
    """One command on a fresh connection; the first line of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        answer = b""
        while not answer.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.strip()


def _check(t: Trial) -> dict:
    """The faulted column must be faulting (else it measures nothing more than redis), the
    others must answer."""
    if t.peer.name == FAULTED:
        answer = _ask(t.endpoint.port, b"*1\r\n$8\r\nFLUSHALL\r\n")
        if not answer.startswith(b"-LOADING"):
            raise BenchError(f"FLUSHALL through {FAULTED} answered {answer[:80]!r}, not -LOADING: "
                             "the fault is not live")
    else:
        answer = _ask(t.endpoint.port, b"*1\r\n$4\r\nPING\r\n")
        if answer != b"+PONG":
            raise BenchError(f"PING through {t.peer.name} answered {answer[:80]!r}")
    return {"check": answer.decode(errors="replace")}


def _measure(section: RedisSection):
    def measure(t: Trial):
        s = t.settings
        checked = _check(t)
        service = t.endpoint.service  # None: direct, no proxy to charge
        for pipelined in (True, False):
            time.sleep(s.redis_settle_seconds)
            requests = s.redis_pipelined_requests if pipelined else s.redis_plain_requests
            before = cpu_seconds(service.pid) if service else 0.0
            started = time.monotonic()
            rows = redis_benchmark(t.sup, t.endpoint.port, CLIENTS, requests, "set,get",
                                   pipeline=PIPELINE if pipelined else 1)
            elapsed = time.monotonic() - started
            used = cpu_seconds(service.pid) - before if service else None
            for key, _, p, test in RATES:
                if p != pipelined:
                    continue
                if test not in rows:
                    raise BenchError(f"redis-benchmark printed no {test} row")
                yield key, rows[test]["rps"], {**rows[test], "round": t.repeat, "requests": requests,
                                               "run_seconds": elapsed, **checked}
            if used is not None:
                key = "cpu_p16" if pipelined else "cpu"
                # SET and GET: 2 x requests, plus redis-benchmark's CONFIG GETs (negligible)
                yield key, used * 1e6 / (2 * requests), {"cpu_s": used, "requests": 2 * requests,
                                                         "round": t.repeat}
        section.load_end = _loadavg()
    return measure


# --- the table -------------------------------------------------------------------------------

def _spread(cell: Cell) -> float | None:
    """Half the range of the runs, relative to their median, in percent."""
    if len(cell.samples) < 2 or not cell.value:
        return None
    return 50 * (max(cell.samples) - min(cell.samples)) / cell.value


def _cell(metric: Metric, cell: Cell, peer: str, footnotes: dict[str, int]) -> str:
    if cell.value is None:
        if not cell.errors:
            return "n/a"
        return f"failed [{footnote(footnotes, f'{peer}: {cell.errors[0]}')}]"
    text = f"{cell.value / 1000:.1f}k" if metric.unit == "req/s" else f"{cell.value:.{metric.digits}f}"
    if (spread := _spread(cell)) is not None:
        text += f" ±{spread:.0f}%"
    if cell.errors:
        runs = len(cell.errors) + len(cell.samples)
        text += f" [{footnote(footnotes, f'{peer}: {len(cell.errors)} of {runs} runs failed: {cell.errors[0]}')}]"
    return text


def _by_round(cell: Cell) -> dict[int, float]:
    return {raw["round"]: value for value, raw in zip(cell.samples, cell.raw)}


def ratio(runner: Runner, key: str, mine: str, theirs: str) -> tuple[float, list[float]] | None:
    """The ratio of the medians, and the ratios within each round (both measured minutes apart
    at most, so these pair up background load)."""
    cells = runner.results[key]
    if mine not in cells or theirs not in cells:
        return None
    a, b = cells[mine], cells[theirs]
    if a.value is None or not b.value:
        return None
    rounds, others = _by_round(a), _by_round(b)
    return a.value / b.value, [rounds[r] / others[r] for r in sorted(rounds) if others.get(r)]


def _ratio_text(found: tuple[float, list[float]] | None) -> str:
    if found is None:
        return "n/a"
    value, per_round = found
    text = f"{value:.2f}"
    if len(per_round) > 1:
        text += f" [{min(per_round):.2f}-{max(per_round):.2f}]"
    return text


def figures(runner: Runner) -> dict:
    """The ratios and the target verdicts, for the JSON."""
    out: dict = {"ratios": {}, "targets": []}
    for metric in runner.metrics:
        out["ratios"][metric.key] = {}
        for mine, theirs, heading in RATIOS:
            found = ratio(runner, metric.key, mine, theirs)
            out["ratios"][metric.key][heading] = None if found is None else {
                "median_ratio": found[0], "per_round": found[1]}
    for keys, reference, bar in TARGETS:
        for key in keys:
            for peer in (REDIS, FAULTED):
                found = ratio(runner, key, peer, reference)
                out["targets"].append({"row": key, "column": peer, "reference": reference,
                                       "at_least": bar, "ratio": found and found[0],
                                       "pass": None if found is None else found[0] >= bar})
    return out


def render_redis(section: RedisSection, runner: Runner) -> str:
    s = section.settings
    peers = list(next(iter(runner.results.values())))
    labels = {m.key: m.label for m in runner.metrics}
    footnotes: dict[str, int] = {}
    rows = [["Redis (redis-benchmark -c 50)", *peers]]
    for metric in runner.metrics:
        cells = runner.results[metric.key]
        rows.append([metric.label, *(_cell(metric, cells[peer], peer, footnotes) for peer in peers)])
    warning = " -- figures are noisy" if runner.others_percent > 5 else ""
    lines = [f"other processes used {runner.others_percent:.0f}% of the CPU time during this "
             f"section{warning}; load average (1 min) {section.load_start:.2f} at its start, "
             f"{section.load_end:.2f} at its end",
             *grid(rows), *footnote_lines(footnotes), ""]
    ratio_rows = [["ratio of medians [lowest-highest within a round]", *(h for _, _, h in RATIOS)]]
    for metric in runner.metrics:
        ratio_rows.append([metric.label, *(_ratio_text(ratio(runner, metric.key, a, b))
                                           for a, b, _ in RATIOS)])
    lines += [*grid(ratio_rows), ""]
    width = max(len(f"{labels[k]} >= {bar:.2f}x {ref}") for keys, ref, bar in TARGETS for k in keys) + 2
    lines.append("Targets".ljust(width) + f"{REDIS:<24}{FAULTED}")
    for keys, reference, bar in TARGETS:
        for key in keys:
            verdicts = []
            for peer in (REDIS, FAULTED):
                found = ratio(runner, key, peer, reference)
                verdicts.append("no figure" if found is None else
                                f"{'PASS' if found[0] >= bar else 'FAIL'} ({found[0]:.2f}x)")
            lines.append(f"{labels[key]} >= {bar:.2f}x {reference}".ljust(width)
                         + f"{verdicts[0]:<24}{verdicts[1]}")
    lines += ["", *_legend(s)]
    if runner.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in runner.notes)]
    return "\n".join(lines)


def redis_json(section: RedisSection, runner: Runner, table: str) -> dict:
    return {**section_json(runner, table), **figures(runner), "idle_fault": IDLE_FAULT,
            "load_average": {"start": section.load_start, "end": section.load_end}}


def _legend(s: Settings) -> list[str]:
    runs = f"median of {s.redis_repeats} runs" if s.redis_repeats > 1 else "1 run"
    return [
        f"Cells: {runs} (rounds over every peer, each starting one peer later, "
        f"{s.redis_settle_seconds:g} s pause before each run), ± half the range of the runs "
        "over the median. The ratios under it are of the medians; in brackets the lowest and "
        "highest ratio of two runs in the same round. On the CPU rows a ratio above 1 is more CPU "
        "per request.",
        f"redis-benchmark -c {CLIENTS} -t set,get --csv: -P {PIPELINE} -n "
        f"{s.redis_pipelined_requests} per test, and without -P -n {s.redis_plain_requests}; "
        "one fresh redis-server (--save '' --appendonly no) and proxy per trial.",
        "haproxy: mode tcp, its default threads (one per CPU); haproxy-1t: nbthread 1. "
        "faultline-tcp: --protocol tcp; faultline-redis: --protocol redis; faultline-redis+fault: "
        f"--protocol redis --fault {IDLE_FAULT} (matches nothing the benchmark sends; checked "
        "live with one FLUSHALL per trial).",
        "proxy CPU: utime+stime of the proxy process (all threads, /proc/PID/stat) over the run "
        "/ (SET + GET requests).",
    ]
