"""The HTTP section: what framing every request and response costs.

`faultline proxy --protocol http` parses each HTTP/1.1 request and response on its way (so that
http.* faults can act per request); `--protocol tcp` (the default) copies the bytes through
and splices bulk. Both run here in front of nginx serving two static files (1 KB and 64 KB),
beside a direct connection and HAProxy in `mode http`, with `wrk -t2 -c64 --latency` on
keep-alive connections.

Columns:
- direct: wrk to nginx, no proxy (the ceiling);
- haproxy: `mode http`, `http-reuse safe`, its default threads (one per CPU); haproxy-1t: the
  same with nbthread 1, like for like with faultline's one event loop (as in the TLS and Redis
  sections);
- fl-tcp: `--protocol tcp`;
- fl-http: `--protocol http`, no fault;
- fl-http+rule: `--protocol http --fault http.respond:status=404,path=/never/*`, a rule that
  matches no request the benchmark sends: the cost of having a rule to consult. Each trial
  checks that it is live (GET /never/probe must get faultline's 404, not nginx's).

Each trial starts a fresh nginx and proxy, checks both files through it, then for each body size
pauses (settle) and runs wrk; the proxy's CPU time (/proc/PID/stat) over each run, per request,
is the CPU row, and the CPU each process took over the run (proxy, nginx, wrk, and what the
machine spent besides: other people's work) says what was busy and whether a run was disturbed. Rounds go over every peer, each round starting one peer later. Until faultline accepts
`--protocol http`, the fl-http columns are not run and print n/a with faultline's refusal.
"""
import http.client
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .load import machine_busy_seconds
from .measures import wrk_http
from .procfs import cpu_seconds, free_port, group_cpu_seconds, wait_listening
from .procs import BenchError, Service, Supervisor
from .report import footnote, footnote_lines, grid, section_json
from .servers import NGINX_FILES, UPSTREAMS, Direct, Faultline, HAProxyHTTP, Peer, start_nginx
from .suites import Cell, Metric, Runner, Settings, Suite, Trial

DIRECT, HAPROXY, HAPROXY_1T = "direct", "haproxy", "haproxy-1t"
TCP, HTTP, RULE = "fl-tcp", "fl-http", "fl-http+rule"
THREADS, CONNECTIONS = 2, 64
# Matches nothing wrk asks for (it asks for /1k.bin and /64k.bin).
IDLE_RULE = "http.respond:status=404,path=/never/*"
PROBE_PATH = "/never/probe"
# (key prefix, label, file): the body sizes, each a wrk run per trial
SIZES = (("1k", "1 KB", "1k.bin"), ("64k", "64 KB", "64k.bin"))
# (key suffix, label, unit, digits, higher is better): the rows of each body size
ROWS = (("rps", "req/s", "req/s", 0, True),
        ("p50", "  latency p50, ms", "ms", 2, False),
        ("p99", "  latency p99, ms", "ms", 2, False),
        ("mbps", "  transfer, MB/s", "MB/s", 0, True),
        ("cpu", "  proxy CPU per request, µs", "µs", 2, False),
        ("proxy_cores", "  CPU busy, cores: proxy", "cores", 2, False),
        ("nginx_cores", "  CPU busy, cores: nginx", "cores", 2, False),
        ("wrk_cores", "  CPU busy, cores: wrk", "cores", 2, False),
        ("other_cores", "  CPU busy, cores: other processes", "cores", 2, False),
        ("errors", "  wrk errors (non-2xx/3xx + socket), all runs", "count", 0, False))
# The ratios printed under the table: (numerator column, denominator column, heading)
RATIOS = ((HTTP, HAPROXY, "fl-http/haproxy"), (HTTP, TCP, "fl-http/fl-tcp"),
          (RULE, HAPROXY, "rule/haproxy"), (RULE, HTTP, "rule/fl-http"),
          (HTTP, HAPROXY_1T, "fl-http/haproxy-1t"), (TCP, HAPROXY, "fl-tcp/haproxy"),
          (HAPROXY, DIRECT, "haproxy/direct"))
RATIO_ROWS = ("rps", "p50", "p99", "mbps", "cpu")
# The targets: (row suffix, reference column, bar, at least (else at most))
TARGETS = (("rps", HAPROXY, 1.0, True), ("p99", HAPROXY, 1.0, False))
# A run during which other processes took more than this many cores is run again, once.
DISTURBED_CORES = 0.15
QUIET_CORES = 0.10  # what the machine may spend in a 1 s window counted as quiet
RETRY_WAIT_SECONDS = 30  # at most, for quiet, before the second run


@dataclass
class HTTPSection:
    settings: Settings
    unavailable: str | None  # why faultline cannot run the fl-http columns, if it cannot
    load_start: float = field(default_factory=lambda: _loadavg())
    load_end: float = 0.0
    checks: dict[str, list[str]] = field(default_factory=dict)  # what each column's probe got
    nginx: Service | None = None  # the current trial's upstream
    retry_left: float = 0.0  # seconds the section may still spend running disturbed runs again
    reruns: int = 0

    def __post_init__(self):
        self.retry_left = self.settings.http_retry_seconds


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def make_http_section(sup: Supervisor, settings: Settings,
                      faultline: str) -> tuple[HTTPSection, list[Peer], list[Suite]]:
    peers: list[Peer] = [
        Direct(), HAProxyHTTP(), HAProxyHTTP(threads=1),
        Faultline(faultline, protocol="tcp", name=TCP),
        Faultline(faultline, protocol="http", name=HTTP),
        Faultline(faultline, protocol="http", faults=(IDLE_RULE,), name=RULE),
    ]
    section = HTTPSection(settings, _http_refusal(sup, faultline))

    def upstream(s: Supervisor, tag: str) -> Service:
        section.nginx = start_nginx(s, tag, settings.http_nginx_workers)
        return section.nginx
    UPSTREAMS["nginx-http"] = upstream  # the trial's nginx, known to the section for its CPU
    runnable = [p for p in peers if not (section.unavailable and p.name in (HTTP, RULE))]
    metrics = [Metric(f"{size}_{key}", f"{label} {row}" if key == "rps" else row, unit, digits, better)
               for size, label, _ in SIZES for key, row, unit, digits, better in ROWS]
    return section, peers, [Suite("http", "nginx-http", metrics, _measure(section),
                                  repeats=settings.http_repeats, peers=runnable)]


def _http_refusal(sup: Supervisor, faultline: str) -> str | None:
    """None when `faultline proxy --protocol http --fault IDLE_RULE` starts and listens; else
    what it said when it refused (the fl-http columns then print n/a with that reason)."""
    port, upstream = free_port(), free_port()
    service = sup.start("http-probe-faultline", [
        faultline, "proxy", "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{upstream}",
        "--protocol", "http", "--fault", IDLE_RULE, "--log-level", "warning"])
    try:
        wait_listening(service, port, timeout=10)
        return None
    except BenchError:
        try:
            service.proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
        text = service.log_path.read_text(errors="replace").strip()
        reason = text.splitlines()[-1] if text else f"exit code {service.proc.returncode}"
        return f"faultline refuses --protocol http: {reason}"
    finally:
        sup.stop(service)


# --- what is measured ------------------------------------------------------------------------

def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes, dict[str, str]]:
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    return response.status, body, {k.lower(): v for k, v in response.getheaders()}


def _check(section: HTTPSection, t: Trial) -> None:
    """Both files whole through the column on one keep-alive connection; through the rule
    column, GET /never/probe answered 404 by faultline itself (no `Server: nginx`)."""
    conn = http.client.HTTPConnection("127.0.0.1", t.endpoint.port, timeout=5)
    seen = []
    try:
        for name, size in NGINX_FILES.items():
            status, body, _ = _get(conn, f"/{name}")
            if status != 200 or len(body) != size:
                raise BenchError(f"GET /{name} through {t.peer.name}: {status}, {len(body)} bytes "
                                 f"(expected 200, {size})")
        seen.append("files 200")
        if t.peer.name == RULE:
            status, body, headers = _get(conn, PROBE_PATH)
            server = headers.get("server", "")
            if status != 404 or "nginx" in server:
                raise BenchError(f"GET {PROBE_PATH} through {RULE} answered {status} "
                                 f"(Server: {server or '-'}; body {body[:60]!r}), not faultline's "
                                 "404: the rule is not live")
            seen.append(f"{PROBE_PATH} 404 from faultline ({body[:40].decode(errors='replace')})")
    except (OSError, http.client.HTTPException) as error:
        raise BenchError(f"checking {t.peer.name}: {error!r}") from None
    finally:
        conn.close()
    text = "; ".join(seen)
    if text not in section.checks.setdefault(t.peer.name, []):
        section.checks[t.peer.name].append(text)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(t: Trial, url: str, nginx: int) -> dict:
    """One wrk run, with the CPU each process took over it."""
    proxy = t.endpoint.service  # None: direct, no proxy to charge
    proxy_before = cpu_seconds(proxy.pid) if proxy else 0.0
    nginx_before, wrk_before = group_cpu_seconds(nginx), _children_cpu()
    machine_before = machine_busy_seconds()
    started = time.monotonic()
    run = wrk_http(t.sup, url, THREADS, CONNECTIONS, t.settings.http_seconds)
    elapsed = time.monotonic() - started
    # wrk is reaped by then, so RUSAGE_CHILDREN has its CPU (and no other child's: nginx and
    # the proxy are reaped only when the trial stops them).
    wrk_cpu = _children_cpu() - wrk_before
    nginx_cpu = group_cpu_seconds(nginx) - nginx_before
    proxy_cpu = cpu_seconds(proxy.pid) - proxy_before if proxy else None
    # What the machine spent besides wrk, nginx and the proxy (the harness sleeps): other
    # people's work, the figure that says a run was disturbed.
    others = max(0.0, machine_busy_seconds() - machine_before - wrk_cpu - nginx_cpu
                 - (proxy_cpu or 0.0))
    return {**run, "round": t.repeat, "wall_s": elapsed, "load1": _loadavg(),
            "wrk_cpu_s": wrk_cpu, "nginx_cpu_s": nginx_cpu, "proxy_cpu_s": proxy_cpu,
            "others_cpu_s": others, "others_cores": others / elapsed}


def _wait_quiet(timeout: float) -> float:
    """Until the machine spent under QUIET_CORES over two 1 s windows running (nginx and the
    proxy are idle between runs), or `timeout`; the seconds waited."""
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < timeout and calm < 2:
        before = machine_busy_seconds()
        time.sleep(1)
        calm = calm + 1 if machine_busy_seconds() - before < QUIET_CORES else 0
    return time.monotonic() - started


def _measure(section: HTTPSection):
    def measure(t: Trial):
        s = t.settings
        _check(section, t)
        nginx = _nginx_pgid(section, t)
        for size, _, name in SIZES:
            url = f"http://127.0.0.1:{t.endpoint.port}/{name}"
            time.sleep(s.http_settle_seconds)
            attempts = [_run(t, url, nginx)]
            # Disturbed: wait for the machine to calm down and run again, once, while the
            # section's allowance lasts; keep the less disturbed run (both in the JSON).
            if attempts[0]["others_cores"] > DISTURBED_CORES and section.retry_left > 0:
                started = time.monotonic()
                waited = _wait_quiet(min(RETRY_WAIT_SECONDS, section.retry_left))
                time.sleep(s.http_settle_seconds)
                attempts.append({**_run(t, url, nginx), "waited_s": waited})
                section.retry_left -= time.monotonic() - started
                section.reruns += 1
            run = min(attempts, key=lambda a: a["others_cores"])
            raw = {**run, "attempts": [{k: a[k] for k in ("rps", "p99_ms", "others_cores", "errors",
                                                          "error_count")} for a in attempts]}
            yield f"{size}_rps", run["rps"], raw
            yield f"{size}_p50", run["p50_ms"], raw
            yield f"{size}_p99", run["p99_ms"], raw
            yield f"{size}_mbps", run["transfer_bytes_per_s"] / 1e6, raw
            if run["proxy_cpu_s"] is not None:
                yield f"{size}_cpu", run["proxy_cpu_s"] * 1e6 / max(run["requests"], 1), raw
                yield f"{size}_proxy_cores", run["proxy_cpu_s"] / run["wall_s"], raw
            yield f"{size}_nginx_cores", run["nginx_cpu_s"] / run["wall_s"], raw
            yield f"{size}_wrk_cores", run["wrk_cpu_s"] / run["wall_s"], raw
            yield f"{size}_other_cores", run["others_cores"], raw
            # Every attempt's errors count, the discarded one's too.
            yield f"{size}_errors", sum(a["error_count"] for a in attempts), raw
        section.load_end = _loadavg()
    return measure


def _nginx_pgid(section: HTTPSection, t: Trial) -> int:
    """nginx's master runs in its own session (the supervisor starts every child so): its pid
    is the process group of the master and its workers."""
    if section.nginx is None or section.nginx.port != t.upstream_port:
        raise BenchError("the trial's nginx is not known")
    return section.nginx.pid


# --- the table -------------------------------------------------------------------------------

def _spread(cell: Cell) -> float | None:
    """Half the range of the runs, relative to their median, in percent."""
    if len(cell.samples) < 2 or not cell.value:
        return None
    return 50 * (max(cell.samples) - min(cell.samples)) / cell.value


def _number(metric: Metric, value: float) -> str:
    if metric.unit == "req/s":
        return f"{value / 1000:.1f}k"
    return f"{value:.{metric.digits}f}"


def _error_text(cell: Cell) -> str:
    """Every error of every run, by kind, e.g. `non_2xx 12, read 3`."""
    kinds: dict[str, int] = {}
    for raw in cell.raw:
        for attempt in raw["attempts"]:
            for kind, count in attempt["errors"].items():
                if count:
                    kinds[kind] = kinds.get(kind, 0) + count
    return ", ".join(f"{kind} {count}" for kind, count in kinds.items())


def _cell(metric: Metric, cell: Cell, peer: str, footnotes: dict[str, int],
          unavailable: str | None) -> str:
    if cell.value is None:
        if cell.errors:
            return f"failed [{footnote(footnotes, f'{peer}: {cell.errors[0]}')}]"
        if unavailable and peer in (HTTP, RULE):
            return f"n/a [{footnote(footnotes, unavailable)}]"
        return "n/a"
    if metric.key.endswith("_errors"):  # the sum over the runs, never hidden
        total = int(sum(cell.samples))
        if not total:
            return "0"
        return f"{total} ERRORS [{footnote(footnotes, f'{peer}, {metric.key[:-7]}: {_error_text(cell)}')}]"
    text = _number(metric, cell.value)
    if metric.key.endswith("_other_cores") and len(cell.samples) > 1:
        return f"{text} (max {max(cell.samples):.2f})"  # which run was disturbed, if one was
    if (spread := _spread(cell)) is not None and not metric.key.endswith("_cores"):
        text += f" ±{spread:.0f}%"
    if cell.errors:
        runs = len(cell.errors) + len(cell.samples)
        text += f" [{footnote(footnotes, f'{peer}: {len(cell.errors)} of {runs} runs failed: {cell.errors[0]}')}]"
    if metric.key.endswith("_rps") and any(a["error_count"] for raw in cell.raw for a in raw["attempts"]):
        text += " (!)"
    return text


def _by_round(cell: Cell) -> dict[int, float]:
    return {raw["round"]: value for value, raw in zip(cell.samples, cell.raw)}


def ratio(runner: Runner, key: str, mine: str, theirs: str) -> tuple[float, list[float]] | None:
    """The ratio of the medians, and the ratios within each round."""
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


def _errors(runner: Runner, size: str, peer: str) -> int:
    cell = runner.results[f"{size}_errors"].get(peer)
    return int(sum(cell.samples)) if cell else 0


def _verdict(runner: Runner, size: str, row: str, peer: str, reference: str, bar: float,
             at_least: bool) -> tuple[str, dict]:
    found = ratio(runner, f"{size}_{row}", peer, reference)
    if found is None:
        return "no figure", {"ratio": None, "pass": None}
    errors = _errors(runner, size, peer) + _errors(runner, size, reference)
    ok = found[0] >= bar if at_least else found[0] <= bar
    text = f"{'PASS' if ok else 'FAIL'} ({found[0]:.2f}x)"
    if errors:
        text += f", {errors} wrk errors: not valid"
        ok = False
    return text, {"ratio": found[0], "per_round": found[1], "pass": ok, "wrk_errors": errors}


def figures(runner: Runner) -> dict:
    """The ratios and the target verdicts, for the JSON."""
    out: dict = {"ratios": {}, "targets": []}
    for size, _, _ in SIZES:
        for row in RATIO_ROWS:
            key = f"{size}_{row}"
            out["ratios"][key] = {}
            for mine, theirs, heading in RATIOS:
                found = ratio(runner, key, mine, theirs)
                out["ratios"][key][heading] = None if found is None else {
                    "median_ratio": found[0], "per_round": found[1]}
        for row, reference, bar, at_least in TARGETS:
            for peer in (HTTP, RULE):
                _, verdict = _verdict(runner, size, row, peer, reference, bar, at_least)
                out["targets"].append({"row": f"{size}_{row}", "column": peer,
                                       "reference": reference, "bar": bar,
                                       "at_least": at_least, **verdict})
    return out


def render_http(section: HTTPSection, runner: Runner) -> str:
    s = section.settings
    peers = list(next(iter(runner.results.values())))
    labels = {m.key: m.label for m in runner.metrics}
    footnotes: dict[str, int] = {}
    rows = [[f"HTTP (wrk -t{THREADS} -c{CONNECTIONS}, keep-alive)", *peers]]
    for metric in runner.metrics:
        cells = runner.results[metric.key]
        rows.append([metric.label, *(_cell(metric, cells[peer], peer, footnotes, section.unavailable)
                                     for peer in peers)])
    warning = " -- figures are noisy" if runner.others_percent > 5 else ""
    lines = [f"other processes used {runner.others_percent:.0f}% of the CPU time during this "
             f"section{warning}; load average (1 min) {section.load_start:.2f} at its start, "
             f"{section.load_end:.2f} at its end; {section.reruns} disturbed "
             f"run{'' if section.reruns == 1 else 's'} run again "
             f"({s.http_retry_seconds - max(section.retry_left, 0):.0f} of {s.http_retry_seconds} s allowed)",
             *grid(rows), *footnote_lines(footnotes), ""]
    ratio_rows = [["ratio of medians [lowest-highest within a round]", *(h for _, _, h in RATIOS)]]
    for size, label, _ in SIZES:
        for row in RATIO_ROWS:
            key = f"{size}_{row}"
            ratio_rows.append([f"{label} {labels[key].strip()}" if row != "rps" else labels[key],
                               *(_ratio_text(ratio(runner, key, a, b)) for a, b, _ in RATIOS)])
    lines += [*grid(ratio_rows), ""]
    names = [(size, row, f"{label} {'req/s' if row == 'rps' else 'p99'} "
              f"{'>=' if at_least else '<='} {bar:.2f}x {reference}", reference, bar, at_least)
             for size, label, _ in SIZES for row, reference, bar, at_least in TARGETS]
    width = max(len(name) for _, _, name, *_ in names) + 2
    lines.append("Targets".ljust(width) + f"{HTTP:<36}{RULE}")
    for size, row, name, reference, bar, at_least in names:
        verdicts = [_verdict(runner, size, row, peer, reference, bar, at_least)[0] for peer in (HTTP, RULE)]
        lines.append(name.ljust(width) + f"{verdicts[0]:<36}{verdicts[1]}")
    lines += ["", *_legend(s, section)]
    if runner.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in runner.notes)]
    return "\n".join(lines)


def http_json(section: HTTPSection, runner: Runner, table: str) -> dict:
    return {**section_json(runner, table), **figures(runner), "idle_rule": IDLE_RULE,
            "unavailable": section.unavailable, "checks": section.checks,
            "nginx_workers": section.settings.http_nginx_workers, "reruns": section.reruns,
            "load_average": {"start": section.load_start, "end": section.load_end}}


def _legend(s: Settings, section: HTTPSection) -> list[str]:
    runs = f"median of {s.http_repeats} runs" if s.http_repeats > 1 else "1 run"
    workers = s.http_nginx_workers
    return [
        f"Cells: {runs} (rounds over every peer, each starting one peer later, "
        f"{s.http_settle_seconds:g} s pause before each run), ± half the range of the runs over "
        "the median; (!) after a req/s figure: wrk counted errors in one of its runs (the errors "
        "row says how many, the footnote which). Ratios: of the medians; in brackets the lowest "
        "and highest ratio of two runs in the same round. On the latency and CPU rows a ratio "
        "above 1 is worse.",
        f"wrk -t{THREADS} -c{CONNECTIONS} -d{s.http_seconds}s --latency http://127.0.0.1:P/1k.bin "
        "(then /64k.bin), keep-alive; latency percentiles and Transfer/sec (MB = 10^6 B here) "
        f"from wrk. Upstream: nginx {workers} worker{'s' if workers > 1 else ''}, access_log off, "
        "sendfile on, keepalive_requests 10M; one fresh nginx and proxy per trial.",
        "haproxy: mode http, http-reuse safe, its default threads (one per CPU); haproxy-1t: "
        "the same, nbthread 1. fl-tcp: "
        "--protocol tcp; fl-http: --protocol http; fl-http+rule: --protocol http --fault "
        f"{IDLE_RULE} (matches nothing wrk asks for; checked live with GET {PROBE_PATH} per trial).",
        "proxy CPU per request: utime+stime of the proxy process (all threads, /proc/PID/stat) "
        "over the run / wrk's requests. CPU busy: CPU seconds over the run's wall time, of the "
        "proxy, of nginx (master and workers) and of wrk (RUSAGE_CHILDREN); other processes: the "
        "machine's user+system time (/proc/stat) minus those three, i.e. work not the "
        f"benchmark's; the median and the highest of the kept runs. A run where it was above "
        f"{DISTURBED_CORES} is run again once, after waiting up to {RETRY_WAIT_SECONDS} s for "
        f"a quiet machine (at most {s.http_retry_seconds} s of this per section), and the less "
        "disturbed run is kept (both in the JSON; the errors row counts both). On 2 CPUs the "
        "four add up to at most 2.",
    ]
