"""The recording section: what `--record DIR` costs on the data path.

`faultline proxy --record DIR` writes events.jsonl (every event of the bus, through a
background writer) and, unless `--no-capture`, capture.pcapng (both legs of every link,
synthesized TCP/IP packets, secrets redacted). This section measures one proxy with each way
of recording against the same proxy without, in one run:

- off: `faultline proxy`, no recording (the reference of every cost);
- off-buffered (iperf3 only): the same with `--no-splice`. A captured link leaves the splice
  path (its bytes must pass through the process), so capture-all's cost is this column's plus
  the capture's own;
- events: `--record DIR --no-capture`;
- capture: `--record DIR`, the default `--capture-limit` (256 MB), DIR on /tmp. At Gbit/s the
  capture reaches its limit within a second, stops, and the rest of the run is capture-free:
  this is what a user gets by default, not what capturing costs;
- capture-all: `--record DIR --capture-limit 1000GB` (1 TB, the largest), DIR on a tmpfs
  mounted for the section (root only; `mount -t tmpfs -o size=BENCH_RECORDING_TMPFS`), so that
  the disk is not what is measured. The capture may still stop early (its writer thread falling
  64 MB behind): the table says so, and the share of the run that was captured;
- direct: no proxy, for reference.

iperf3 (one stream, `-t 5`) runs through `--protocol tcp`; redis-benchmark -c 50 -t set,get,
pipelined (-P 16) and not, through `--protocol redis` (where every command and reply is also
an event: requestStarted, requestAnswered). Each trial starts a fresh upstream, a fresh DIR (a
new folder, removed after the trial) and a fresh proxy; rounds go over every column, each round
starting one column later; cells are medians. After each run the proxy's VmRSS (and its peak,
VmHWM) is read, so a recording that grows memory without bound shows; the proxy is then stopped
with SIGTERM and given 20 s to finish its files (its exit status and the time it took are
kept), and what DIR holds is measured before it is removed.

BENCH_RECORDING_PORTS=LOW-HIGH takes every port this section listens on from that range (else
anywhere below the ephemeral range, as the other sections do). BENCH_RECORDING_PERF=1 adds,
after the rounds, one trial per faultline redis column under `perf record -g`, with the reports
(`perf report --no-children --percent-limit 2 --stdio`) in the logs folder.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .load import LoadMeter
from .measures import iperf_gbps, redis_benchmark
from .procfs import cpu_seconds, free_port, wait_listening
from .procs import BenchError, Service, Supervisor
from .report import footnote, footnote_lines, grid
from .suites import Cell, Metric, Settings

DIRECT, OFF, BUFFERED, EVENTS, CAPTURE, CAPTURE_ALL = (
    "direct", "off", "off-buffered", "events", "capture", "capture-all")
# column -> the flags after --record DIR (None: no --record)
RECORD_FLAGS: dict[str, list[str] | None] = {
    OFF: None, BUFFERED: None, EVENTS: ["--no-capture"], CAPTURE: [],
    CAPTURE_ALL: ["--capture-limit", "1000GB"]}  # 1 TB, the largest ("1TB" is not a spelling it takes)
IPERF_COLUMNS = (DIRECT, OFF, BUFFERED, EVENTS, CAPTURE, CAPTURE_ALL)
REDIS_COLUMNS = (DIRECT, OFF, EVENTS, CAPTURE, CAPTURE_ALL)
# The targets: cost (1 - with / without) at most this, by column
TARGETS = ((EVENTS, 0.10, "capture off"), (CAPTURE, 0.35, "capture on, default limit"),
           (CAPTURE_ALL, 0.35, "capture on, every byte"))
CLIENTS, PIPELINE = 50, 16
STOP_GRACE = 20.0  # seconds a recording proxy gets to write its files after SIGTERM


@dataclass(frozen=True)
class Plan:
    rounds: int
    iperf_seconds: int
    pipelined_requests: int
    plain_requests: int
    settle: float
    budget_seconds: int
    tmpfs_size: str
    perf: bool

    @classmethod
    def from_settings(cls, s: Settings) -> "Plan":
        tmpfs = os.environ.get("BENCH_RECORDING_TMPFS", "10g")
        perf = os.environ.get("BENCH_RECORDING_PERF") == "1"
        if s.quick:
            return cls(1, 2, 200_000, 50_000, 0.5, 150, tmpfs, perf)
        return cls(3, 5, 800_000, 200_000, 1.0, 720, tmpfs, perf)


# --- ports -----------------------------------------------------------------------------------

class Ports:
    """BENCH_RECORDING_PORTS=LOW-HIGH: ports handed out in turn from that range, each probed
    free (bind without SO_REUSEADDR, so one with TIME_WAIT sockets is skipped); unset: the
    harness's free_port."""

    def __init__(self):
        spec = os.environ.get("BENCH_RECORDING_PORTS", "")
        self.range: range | None = None
        if spec:
            low, _, high = spec.partition("-")
            if not (low.isdigit() and high.isdigit() and 0 < int(low) <= int(high) < 65536):
                raise SystemExit(f"BENCH_RECORDING_PORTS={spec}: expected LOW-HIGH")
            self.range = range(int(low), int(high) + 1)
        self.next = 0

    def take(self) -> int:
        if self.range is None:
            return free_port()
        for _ in range(len(self.range)):
            port = self.range[self.next % len(self.range)]
            self.next += 1
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
        raise BenchError(f"no free port in BENCH_RECORDING_PORTS={self.range.start}-{self.range.stop - 1}")


# --- one trial -------------------------------------------------------------------------------

def _status_kb(pid: int, field_name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def _scan_events(path: Path) -> dict:
    """Lines of events.jsonl, and when (bus seconds) capture.pcapng stopped, if it did."""
    lines, stopped, tail = 0, None, b""
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            lines += chunk.count(b"\n")
            text = tail + chunk
            at = text.find(b'"kind":"recordingStopped"')
            if stopped is None and at >= 0 and b'capture.pcapng' in text[at:text.find(b"\n", at)]:
                line = text[text.rfind(b"\n", 0, at) + 1:text.find(b"\n", at)]
                try:
                    stopped = float(json.loads(line)["time"])
                except (ValueError, KeyError, TypeError):
                    pass
            tail = text[text.rfind(b"\n") + 1:]
    out: dict = {"event_lines": lines}
    if stopped is not None:
        out["capture_stopped_at_s"] = stopped
    return out


def _dir_bytes(path: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()} if path.exists() else {}


@dataclass
class Running:
    """A trial's upstream, proxy (None: direct) and record folder."""

    upstream: Service
    port: int  # where the client connects
    proxy: Service | None = None
    folder: Path | None = None
    started: float = 0.0  # time.monotonic() when the proxy was started (its bus time zero)
    window: list[float] = field(default_factory=list)  # the clients' first start, last end


@dataclass
class RecordingSection:
    sup: Supervisor
    settings: Settings
    faultline: str
    plan: Plan
    ports: Ports = field(default_factory=Ports)
    # metric key -> column -> cell
    results: dict[str, dict[str, Cell]] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    others_percent: float = 0.0
    tmpfs: Path | None = None
    tmpfs_error: str | None = None
    profiles: dict[str, str] = field(default_factory=dict)  # column -> perf report path

    # The Runner interface bench/run drives: run(suites), results, metrics, notes.
    def run(self, _suites) -> None:
        load = LoadMeter()
        deadline = time.monotonic() + self.plan.budget_seconds
        self._declare()
        try:
            self._mount()
            for suite, columns in (("iperf", IPERF_COLUMNS), ("redis", REDIS_COLUMNS)):
                for r in range(1, self.plan.rounds + 1):
                    shift = (r - 1) % len(columns)
                    for column in columns[shift:] + columns[:shift]:
                        tag = f"rec-{suite}{r}"
                        if time.monotonic() > deadline:
                            self._fail(suite, column, "skipped: time budget spent")
                            continue
                        self._trial(suite, column, tag, r)
            if self.plan.perf:
                for column in (OFF, EVENTS, CAPTURE_ALL):
                    self._profile(column)
        finally:
            self._unmount()
        self.others_percent = load.others_percent()

    def _declare(self) -> None:
        rate, cpu = dict(unit="req/s", digits=0), dict(unit="µs", digits=2, higher_is_better=False)
        kb = dict(unit="MB", digits=1, higher_is_better=False)
        self.metrics = [
            Metric("iperf", "iperf3 1 stream, Gbit/s", "Gbit/s", 2),
            Metric("iperf_cpu", "  proxy CPU per GB, ms", "ms/GB", 0, higher_is_better=False),
            Metric("iperf_rss", "  proxy VmRSS at the end, MB", **kb),
            Metric("iperf_hwm", "  proxy VmHWM (peak), MB", **kb),
            Metric("iperf_written", "  recording written, MB", **kb),
            Metric("iperf_covered", "  share of the run captured, %", "%", 0),
            Metric("set_p16", f"redis SET -P{PIPELINE}, req/s", **rate),
            Metric("get_p16", f"redis GET -P{PIPELINE}, req/s", **rate),
            Metric("cpu_p16", f"  proxy CPU per request -P{PIPELINE}, µs", **cpu),
            Metric("rss_p16", f"  proxy VmRSS after -P{PIPELINE}, MB", **kb),
            Metric("set", "redis SET -P1, req/s", **rate),
            Metric("get", "redis GET -P1, req/s", **rate),
            Metric("cpu", "  proxy CPU per request -P1, µs", **cpu),
            Metric("rss", "  proxy VmRSS at the end, MB", **kb),
            Metric("hwm", "  proxy VmHWM (peak), MB", **kb),
            Metric("redis_written", "  recording written, MB", **kb),
            Metric("redis_covered", "  share of the run captured, %", "%", 0),
        ]
        for metric in self.metrics:
            columns = IPERF_COLUMNS if metric.key.startswith("iperf") else REDIS_COLUMNS
            self.results[metric.key] = {c: Cell() for c in columns}

    def _keys(self, suite: str) -> list[str]:
        return [m.key for m in self.metrics if m.key.startswith("iperf") == (suite == "iperf")]

    # --- tmpfs for capture-all -----------------------------------------------------------------

    def _mount(self) -> None:
        if os.geteuid() != 0:
            self.tmpfs_error = "capture-all needs a tmpfs: run as root (mount -t tmpfs)"
            return
        where = Path(tempfile.mkdtemp(prefix="faultline-bench-tmpfs-", dir="/tmp"))
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.plan.tmpfs_size},mode=0700",
                               "faultline-bench", str(where)], capture_output=True, text=True)
        if done.returncode != 0:
            where.rmdir()
            self.tmpfs_error = f"mount -t tmpfs failed: {done.stderr.strip()[:200]}"
            return
        self.tmpfs = where

    def _unmount(self) -> None:
        if self.tmpfs is None:
            return
        for child in self.tmpfs.iterdir():
            shutil.rmtree(child, ignore_errors=True)
        done = subprocess.run(["umount", str(self.tmpfs)], capture_output=True, text=True)
        if done.returncode != 0:
            time.sleep(1)  # a proxy's writer thread may still hold a file: once more
            done = subprocess.run(["umount", str(self.tmpfs)], capture_output=True, text=True)
        if done.returncode == 0:
            self.tmpfs.rmdir()
        else:
            self.notes.append(f"umount {self.tmpfs} failed: {done.stderr.strip()[:200]}")
        self.tmpfs = None

    # --- starting and stopping -----------------------------------------------------------------

    def _start(self, suite: str, column: str, tag: str) -> Running:
        port = self.ports.take()
        if suite == "iperf":
            argv = ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)]
        else:
            argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                    "--appendonly", "no", "--maxclients", "10000"]
        running = Running(self.sup.start(f"{tag}-{suite}-upstream-{column}", argv), port)
        try:
            self._start_proxy(running, suite, column, tag)
        except BaseException:
            self._stop(running)  # what started, and the folder
            raise
        return running

    def _start_proxy(self, running: Running, suite: str, column: str, tag: str) -> None:
        port = running.port
        wait_listening(running.upstream, port)
        if column == DIRECT:
            return
        flags = RECORD_FLAGS[column]
        listen = self.ports.take()
        argv = [self.faultline, "proxy", "--listen", f"127.0.0.1:{listen}",
                "--upstream", f"127.0.0.1:{port}", "--log-level", "warning",
                "--protocol", "tcp" if suite == "iperf" else "redis"]
        if column == BUFFERED:
            argv.append("--no-splice")
        if flags is not None:
            if column == CAPTURE_ALL:
                if self.tmpfs is None:
                    raise BenchError(self.tmpfs_error or "no tmpfs")
                base = self.tmpfs
            else:
                base = Path("/tmp")
            running.folder = Path(tempfile.mkdtemp(prefix=f"faultline-bench-record-{column}-", dir=base))
            argv += ["--record", str(running.folder), *flags]
        running.started = time.monotonic()
        running.proxy = self.sup.start(f"{tag}-{suite}-{column}", argv)
        wait_listening(running.proxy, listen)
        running.port = listen

    def _stop(self, running: Running) -> dict:
        """SIGTERM, then up to STOP_GRACE s for the recording's files; what the folder holds."""
        out: dict = {}
        proxy = running.proxy
        if proxy is not None:
            if proxy.proc.poll() is None:
                started = time.monotonic()
                try:
                    os.killpg(proxy.pid, signal.SIGTERM)
                    proxy.proc.wait(STOP_GRACE)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
                out["stop_seconds"] = round(time.monotonic() - started, 3)
            self.sup.stop(proxy)  # SIGKILL if it is still there
            out["exit_code"] = proxy.proc.returncode
            log = proxy.log_path.read_text(errors="replace") if proxy.log_path.exists() else ""
            stopped = [line.strip() for line in log.splitlines() if "stopped:" in line]
            if stopped:
                out["recording_stopped"] = stopped[0][-200:]
        self.sup.stop(running.upstream)
        if running.folder is not None:
            files = _dir_bytes(running.folder)
            out["files"] = files
            events = running.folder / "events.jsonl"
            if events.exists():
                out.update(_scan_events(events))
            if "capture.pcapng" in files and len(running.window) == 2:
                # The share of the clients' run that was captured: up to the capture's stop.
                start, end = (t - running.started for t in running.window)
                stop = out.get("capture_stopped_at_s", end)
                out["capture_covered"] = max(0.0, min(1.0, (stop - start) / (end - start)))
            shutil.rmtree(running.folder, ignore_errors=True)
        return out

    # --- measuring -----------------------------------------------------------------------------

    def _trial(self, suite: str, column: str, tag: str, round_: int) -> None:
        print(f"  {tag:<11} {column:<13}", end="", flush=True)
        running = None
        failure = None
        pending: list[tuple[str, float, dict]] = []
        try:
            running = self._start(suite, column, tag)
            measure = self._iperf if suite == "iperf" else self._redis
            for key, value, raw in measure(running, round_):
                pending.append((key, value, raw))
                print(f" {key}={value:.4g}", end="", flush=True)
        except BenchError as error:
            failure = str(error)
            if running and running.proxy and (note := running.proxy.exit_note()):
                failure = note
        finally:
            stopped = self._stop(running) if running else {}
        written = sum(stopped.get("files", {}).values()) / 1e6
        if failure is None and running and running.folder is not None:
            pending.append(("iperf_written" if suite == "iperf" else "redis_written", written,
                            {"round": round_}))
            if "capture_covered" in stopped:
                pending.append(("iperf_covered" if suite == "iperf" else "redis_covered",
                                100 * stopped["capture_covered"], {"round": round_}))
        for key, value, raw in pending:
            raw.update(stopped)
            self.results[key][column].samples.append(value)
            self.results[key][column].raw.append(raw)
        if failure is not None:
            self._fail(suite, column, failure, done={k for k, _, _ in pending})
            print(f" FAILED: {failure}")
        else:
            extra = f" written={written:.0f}MB" if running and running.folder is not None else ""
            if "recording_stopped" in stopped:
                extra += " (recording stopped early)"
            print(extra)
        code = stopped.get("exit_code")
        if code not in (None, 0, -15, 143):
            self.notes.append(f"{tag} {column}: faultline exited with code {code} when stopped "
                              f"(after {stopped.get('stop_seconds')} s)")

    def _fail(self, suite: str, column: str, message: str, done: set[str] = frozenset()) -> None:
        for key in self._keys(suite):
            if key not in done and column in self.results[key]:
                self.results[key][column].errors.append(message)

    def _memory(self, running: Running) -> dict:
        if running.proxy is None:
            return {}
        return {"rss_kb": _status_kb(running.proxy.pid, "VmRSS"),
                "hwm_kb": _status_kb(running.proxy.pid, "VmHWM")}

    def _iperf(self, running: Running, round_: int) -> Iterator[tuple[str, float, dict]]:
        proxy = running.proxy
        time.sleep(self.plan.settle)
        before = cpu_seconds(proxy.pid) if proxy else 0.0
        running.window = [time.monotonic()]
        gbps, raw = iperf_gbps(self.sup, running.port, self.plan.iperf_seconds, 1)
        running.window.append(time.monotonic())
        raw["round"] = round_
        yield "iperf", gbps, raw
        if proxy is None:
            return
        used = cpu_seconds(proxy.pid) - before
        yield "iperf_cpu", used * 1e3 / (raw["bytes"] / 1e9), {"cpu_s": used, "round": round_}
        memory = self._memory(running)
        yield "iperf_rss", memory["rss_kb"] / 1024, {**memory, "round": round_}
        yield "iperf_hwm", memory["hwm_kb"] / 1024, {**memory, "round": round_}

    def _redis(self, running: Running, round_: int) -> Iterator[tuple[str, float, dict]]:
        proxy = running.proxy
        for pipelined in (True, False):
            time.sleep(self.plan.settle)
            requests = self.plan.pipelined_requests if pipelined else self.plan.plain_requests
            before = cpu_seconds(proxy.pid) if proxy else 0.0
            started = time.monotonic()
            rows = redis_benchmark(self.sup, running.port, CLIENTS, requests, "set,get",
                                   pipeline=PIPELINE if pipelined else 1)
            elapsed = time.monotonic() - started
            running.window = [running.window[0] if running.window else started, time.monotonic()]
            suffix = "_p16" if pipelined else ""
            for test in ("SET", "GET"):
                if test not in rows:
                    raise BenchError(f"redis-benchmark printed no {test} row")
                yield test.lower() + suffix, rows[test]["rps"], {
                    **rows[test], "round": round_, "requests": requests, "run_seconds": elapsed}
            if proxy is None:
                continue
            used = cpu_seconds(proxy.pid) - before
            yield "cpu" + suffix, used * 1e6 / (2 * requests), {"cpu_s": used, "round": round_}
            memory = self._memory(running)
            yield ("rss_p16" if pipelined else "rss"), memory["rss_kb"] / 1024, {**memory, "round": round_}
            if not pipelined:
                yield "hwm", memory["hwm_kb"] / 1024, {**memory, "round": round_}

    # --- perf ------------------------------------------------------------------------------------

    def _profile(self, column: str) -> None:
        """One more redis trial of `column` under `perf record -g` on the proxy (not counted in
        the table): -P1 then -P16, one perf.data each, and its report beside the logs."""
        if shutil.which("perf") is None:
            self.notes.append("BENCH_RECORDING_PERF=1: no perf on PATH")
            return
        tag = "rec-perf"
        print(f"  {tag:<11} {column:<13}", end="", flush=True)
        running = None
        try:
            running = self._start("redis", column, tag)
            for pipeline, requests in ((1, self.plan.plain_requests), (PIPELINE, self.plan.pipelined_requests)):
                data = self.sup.log_dir / f"recording-perf-{column}-P{pipeline}.data"
                recorder = self.sup.start(f"{tag}-perf-{column}-P{pipeline}", [
                    "perf", "record", "-g", "-F", "1999", "-o", str(data), "-p", str(running.proxy.pid)])
                time.sleep(1.0)
                rows = redis_benchmark(self.sup, running.port, CLIENTS, requests, "set,get", pipeline=pipeline)
                os.killpg(recorder.pid, signal.SIGINT)  # perf writes its file on SIGINT
                try:
                    recorder.proc.wait(30)
                except subprocess.TimeoutExpired:
                    pass
                self.sup.stop(recorder)
                report = data.with_suffix(".txt")
                with open(report, "w") as out:
                    subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--percent-limit", "2",
                                    "--stdio"], stdout=out, stderr=subprocess.DEVNULL, timeout=300)
                self.profiles[f"{column} -P{pipeline}"] = str(report)
                print(f" P{pipeline}: SET={rows['SET']['rps']:.0f} GET={rows['GET']['rps']:.0f}", end="", flush=True)
            print()
        except (BenchError, OSError, subprocess.TimeoutExpired) as error:
            print(f" FAILED: {error}")
            self.notes.append(f"perf {column}: {error}")
        finally:
            if running:
                self._stop(running)


def make_recording_section(sup: Supervisor, settings: Settings, faultline: str) -> RecordingSection:
    return RecordingSection(sup, settings, faultline, Plan.from_settings(settings))


# --- the table -------------------------------------------------------------------------------

def _by_round(cell: Cell) -> dict[int, float]:
    return {raw["round"]: value for value, raw in zip(cell.samples, cell.raw)}


def ratio(section: RecordingSection, key: str, mine: str, theirs: str = OFF) -> tuple[float, list[float]] | None:
    """with / without: the ratio of the medians, and the ratios within each round."""
    cells = section.results[key]
    if mine not in cells or theirs not in cells:
        return None
    a, b = cells[mine], cells[theirs]
    if a.value is None or not b.value:
        return None
    rounds, others = _by_round(a), _by_round(b)
    return a.value / b.value, [rounds[r] / others[r] for r in sorted(rounds) if others.get(r)]


def _spread(cell: Cell) -> float | None:
    """Half the range of the runs, relative to their median, in percent."""
    if len(cell.samples) < 2 or not cell.value:
        return None
    return 50 * (max(cell.samples) - min(cell.samples)) / cell.value


def _cell(section: RecordingSection, metric: Metric, column: str, footnotes: dict[str, int]) -> str:
    cell = section.results[metric.key].get(column)
    if cell is None:
        return ""
    if cell.value is None:
        if not cell.errors:
            return "n/a"
        return f"failed [{footnote(footnotes, f'{column}: {cell.errors[0]}')}]"
    value = cell.value
    text = f"{value / 1000:.1f}k" if metric.unit == "req/s" else f"{value:.{metric.digits}f}"
    if (spread := _spread(cell)) is not None and metric.unit in ("req/s", "Gbit/s"):
        text += f" ±{spread:.0f}%"
    if metric.unit in ("req/s", "Gbit/s") and column not in (DIRECT, OFF):
        if (found := ratio(section, metric.key, column)) is not None:
            text += f" ({found[0]:.2f}×)"
    if cell.errors:
        runs = len(cell.errors) + len(cell.samples)
        text += f" [{footnote(footnotes, f'{column}: {len(cell.errors)} of {runs} runs failed: {cell.errors[0]}')}]"
    return text


RATE_KEYS = ("iperf", "set_p16", "get_p16", "set", "get")


def figures(section: RecordingSection) -> dict:
    out: dict = {"cost": {}, "targets": []}
    for key in RATE_KEYS:
        out["cost"][key] = {}
        for column in (BUFFERED, EVENTS, CAPTURE, CAPTURE_ALL):
            found = ratio(section, key, column)
            if found is not None:
                out["cost"][key][column] = {"ratio": found[0], "cost": 1 - found[0],
                                            "per_round": found[1]}
    for column, bar, what in TARGETS:
        for key in RATE_KEYS:
            found = ratio(section, key, column)
            out["targets"].append({"row": key, "column": column, "what": what, "max_cost": bar,
                                   "cost": None if found is None else 1 - found[0],
                                   "pass": None if found is None else 1 - found[0] <= bar})
    return out


def render_recording(section: RecordingSection) -> str:
    p = section.plan
    labels = {m.key: m.label for m in section.metrics}
    footnotes: dict[str, int] = {}
    columns = list(IPERF_COLUMNS)
    rows = [["Recording (--record DIR)", *columns]]
    for metric in section.metrics:
        rows.append([metric.label, *(_cell(section, metric, c, footnotes) for c in columns)])
    warning = " -- figures are noisy" if section.others_percent > 5 else ""
    lines = [f"other processes used {section.others_percent:.0f}% of the CPU time during this "
             f"section{warning}", *grid(rows), *footnote_lines(footnotes), ""]
    cost_rows = [["cost = 1 - with/off, median [lowest-highest within a round]",
                  *(c for c in columns if c not in (DIRECT, OFF))]]
    for key in RATE_KEYS:
        cells = []
        for column in cost_rows[0][1:]:
            found = ratio(section, key, column)
            if found is None:
                cells.append("" if column not in section.results[key] else "n/a")
                continue
            text = f"{100 * (1 - found[0]):.0f}%"
            if len(found[1]) > 1:
                text += f" [{100 * (1 - max(found[1])):.0f}–{100 * (1 - min(found[1])):.0f}%]"
            cells.append(text)
        cost_rows.append([labels[key], *cells])
    lines += [*grid(cost_rows), ""]
    lines.append("Targets (cost = 1 - with/off)")
    for column, bar, what in TARGETS:
        verdicts = []
        for key in RATE_KEYS:
            found = ratio(section, key, column)
            verdict = "no figure" if found is None else \
                f"{'PASS' if 1 - found[0] <= bar else 'FAIL'} {100 * (1 - found[0]):.0f}%"
            verdicts.append(f"{key} {verdict}")
        lines.append(f"  {column} ({what}) <= {bar:.0%}: " + "; ".join(verdicts))
    for key, what in (("iperf", "iperf3"), ("set", "redis")):
        for column in (CAPTURE, CAPTURE_ALL):
            raws = section.results[key][column].raw
            stopped = [raw["recording_stopped"] for raw in raws if "recording_stopped" in raw]
            if stopped:
                lines.append(f"{what} {column}: the capture stopped early in {len(stopped)} of "
                             f"{len(raws)} trials ({stopped[0].split('stopped: ', 1)[-1]})"
                             + (" -- this column is NOT the cost of capturing every byte"
                                if column == CAPTURE_ALL else ""))
    lines += ["", *_legend(p)]
    if section.profiles:
        lines += ["", "perf reports:", *(f"  {k}: {v}" for k, v in section.profiles.items())]
    if section.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in section.notes)]
    return "\n".join(lines)


def recording_json(section: RecordingSection, table: str) -> dict:
    return {
        "metrics": [{
            "key": m.key, "label": m.label, "unit": m.unit,
            "values": {c: cell.value for c, cell in section.results[m.key].items()},
            "samples": {c: cell.samples for c, cell in section.results[m.key].items()},
            "raw": {c: cell.raw for c, cell in section.results[m.key].items()},
            "errors": {c: cell.errors for c, cell in section.results[m.key].items() if cell.errors},
        } for m in section.metrics],
        **figures(section),
        "plan": {"rounds": section.plan.rounds, "iperf_seconds": section.plan.iperf_seconds,
                 "pipelined_requests": section.plan.pipelined_requests,
                 "plain_requests": section.plan.plain_requests, "tmpfs_size": section.plan.tmpfs_size},
        "profiles": section.profiles,
        "notes": section.notes,
        "table": table,
    }


def _legend(p: Plan) -> list[str]:
    runs = f"median of {p.rounds} runs" if p.rounds > 1 else "1 run"
    return [
        f"Cells: {runs} (rounds over every column, each starting one column later, {p.settle:g} s "
        "pause before each run), ± half the range of the runs over the median, (×) the ratio to "
        "off. cost = 1 - that ratio; in brackets the lowest and highest cost within one round.",
        f"iperf3 -c -t {p.iperf_seconds} (one stream) through faultline proxy --protocol tcp; "
        f"redis-benchmark -c {CLIENTS} -t set,get --csv, -P {PIPELINE} -n {p.pipelined_requests} then "
        f"-P 1 -n {p.plain_requests}, through faultline proxy --protocol redis; fresh upstream, "
        "proxy and record folder per trial.",
        "off: no --record; off-buffered: --no-splice; events: --record DIR --no-capture; capture: "
        "--record DIR (default --capture-limit 256 MB; DIR on /tmp); capture-all: --record DIR "
        f"--capture-limit 1000GB, DIR on a tmpfs (size={p.tmpfs_size}).",
        "proxy CPU: utime+stime of the proxy (all threads, the writer threads too) over the run, "
        "per GB received or per request (SET + GET). VmRSS / VmHWM from /proc/PID/status after the "
        "run; recording written: events.jsonl + capture.pcapng + the small files, after SIGTERM.",
    ]
