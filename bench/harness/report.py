"""The main table (metrics x peers, each cell with its ratio to direct and to HAProxy), the
issue's targets, and the JSON written beside it; `grid` and the footnotes serve the fault
section's table too."""
import statistics
from dataclasses import asdict

from .suites import Cell, Metric, Runner, Settings

DIRECT, HAPROXY = "direct", "haproxy"
SERVE, FAULTLINE, TOXIPROXY = "faultline-serve", "faultline", "toxiproxy"
# The comparison under the passthrough, fault and api tables: (numerator, denominator)
SERVE_PAIRS = ((SERVE, FAULTLINE), (SERVE, TOXIPROXY), (FAULTLINE, TOXIPROXY))


def render(runner: Runner, settings: Settings) -> str:
    lines = [*_table(runner), ""]
    rows = [(metric.label.strip(), {peer: cell.value for peer, cell in runner.results[metric.key].items()})
            for metric in runner.metrics]
    lines += [*serve_ratios(rows), ""]
    lines += _targets(runner)
    lines += ["", *_legend(settings)]
    if runner.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in runner.notes)]
    return "\n".join(lines)


def section_json(runner: Runner, table: str) -> dict:
    return {
        "metrics": [{
            **asdict(metric),
            "values": {peer: cell.value for peer, cell in runner.results[metric.key].items()},
            "samples": {peer: cell.samples for peer, cell in runner.results[metric.key].items()},
            "raw": {peer: cell.raw for peer, cell in runner.results[metric.key].items()},
            "errors": {peer: cell.errors for peer, cell in runner.results[metric.key].items()
                       if cell.errors},
        } for metric in runner.metrics],
        "notes": runner.notes,
        "table": table,
    }


# --- the table -------------------------------------------------------------------------------

def _table(runner: Runner) -> list[str]:
    peers = list(next(iter(runner.results.values())))
    footnotes: dict[str, int] = {}  # text -> number, so one crash gets one footnote
    rows = [["metric", *peers]]
    for metric in runner.metrics:
        cells = runner.results[metric.key]
        rows.append([metric.label, *(cell_text(metric, cells, peer, footnotes) for peer in peers)])
    return grid(rows) + footnote_lines(footnotes)


def grid(rows: list[list[str]]) -> list[str]:
    """Rows of cells as left-aligned columns, with a rule under the first row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def footnote(footnotes: dict[str, int], text: str) -> int:
    return footnotes.setdefault(text, len(footnotes) + 1)


def footnote_lines(footnotes: dict[str, int]) -> list[str]:
    return [f"  [{n}] {text}" for text, n in footnotes.items()]


def cell_text(metric: Metric, cells: dict[str, Cell], peer: str, footnotes: dict[str, int],
              references: tuple[tuple[str, str], ...] = ((DIRECT, "d"), (HAPROXY, "h"))) -> str:
    """The figure, a footnote when repeats failed, and its ratio to each present reference
    column (`name`, `tag`), e.g. `20.37 (0.61×d, 1.92×h)`; `direct` gets no ratios."""
    cell = cells[peer]
    if cell.value is None:
        if not cell.errors:
            return "n/a"
        return f"failed [{footnote(footnotes, f'{peer}: {cell.errors[0]}')}]"
    text = f"{cell.value:.{metric.digits}f}"
    if cell.errors:  # some repeats failed: the figure stands on fewer samples
        runs = len(cell.errors) + len(cell.samples)
        text += f" [{footnote(footnotes, f'{peer}: {len(cell.errors)} of {runs} runs failed: {cell.errors[0]}')}]"
    if peer == DIRECT:  # the reference itself: its ratios say nothing about a proxy
        return text
    ratios = [f"{r:.2f}×{tag}" for ref, tag in references
              if ref != peer and (r := _ratio(cells, peer, ref)) is not None]
    return f"{text} ({', '.join(ratios)})" if ratios else text


def _ratio(cells: dict[str, Cell], peer: str, reference: str) -> float | None:
    ref = cells.get(reference)
    if ref is None or not ref.value or cells[peer].value is None:
        return None
    return cells[peer].value / ref.value


def serve_ratios(rows: list[tuple[str, dict[str, float | None]]],
                 pairs: tuple[tuple[str, str], ...] = SERVE_PAIRS) -> list[str]:
    """faultline serve against faultline proxy and Toxiproxy: for each row (label, figure by
    column), the ratio of the figures of each pair present; `-` where one is missing."""
    present = {peer for _, values in rows for peer in values}
    pairs = tuple((a, b) for a, b in pairs if a in present and b in present)
    if not pairs:
        return []
    table = [["ratios of the figures above", *(f"{a}/{b}" for a, b in pairs)]]
    for label, values in rows:
        cells = []
        for a, b in pairs:
            mine, theirs = values.get(a), values.get(b)
            cells.append(f"{mine / theirs:.2f}" if mine is not None and theirs else "-")
        if any(cell != "-" for cell in cells):
            table.append([label, *cells])
    return grid(table) if len(table) > 1 else []


# --- the targets ---------------------------------------------------------------------

def _targets(runner: Runner) -> list[str]:
    """Each faultline column against the issue's bar; HAProxy is the reference."""
    faultlines = [peer for peer in next(iter(runner.results.values())) if peer.startswith("faultline")]
    checks = [
        ("iperf3 1 stream >= 1.00x HAProxy", lambda p: _vs_haproxy(runner, ["iperf_1"], p), 1.00, True),
        ("redis -c 50 (mean of SET, GET) >= 0.95x HAProxy",
         lambda p: _vs_haproxy(runner, ["redis_set", "redis_get"], p), 0.95, True),
        ("redis -c 1 p50 <= 1.00x HAProxy", lambda p: _vs_haproxy(runner, ["redis_p50"], p), 1.00, False),
        ("memory per idle link <= 8 KB", lambda p: runner.results["idle_kb"][p].value, 8.0, False),
    ]
    width = max(len(name) for name, *_ in checks)
    lines = ["Targets".ljust(width) + "  " + "  ".join(f"{p:<20}" for p in faultlines)]
    for name, figure, bar, at_least in checks:
        verdicts = []
        for peer in faultlines:
            value = figure(peer)
            if value is None:
                verdicts.append("no figure".ljust(20))
                continue
            ok = value >= bar if at_least else value <= bar
            verdicts.append(f"{'PASS' if ok else 'FAIL'} ({value:.2f})".ljust(20))
        lines.append(name.ljust(width) + "  " + "  ".join(verdicts))
    return [line.rstrip() for line in lines]


def _vs_haproxy(runner: Runner, keys: list[str], peer: str) -> float | None:
    mine = [runner.results[k][peer].value for k in keys]
    theirs = [runner.results[k][HAPROXY].value for k in keys]
    if None in mine or None in theirs or not all(theirs):
        return None
    return statistics.mean(mine) / statistics.mean(theirs)


def _legend(s: Settings) -> list[str]:
    repeats = f"median of {s.iperf_repeats} runs" if s.iperf_repeats > 1 else "1 run"
    return [
        "Cells: figure (ratio to direct ×d, ratio to HAProxy ×h). For lower=better rows "
        "a ratio above 1 is worse.",
        f"iperf3: -t {s.iperf_seconds}, sum_received, {repeats} each, peers interleaved. "
        f"redis-benchmark: -c 50 -n {s.redis_requests} -t set,get; -c 1 -n {s.latency_requests} "
        "-t get, from --csv",
        "(its p50 comes from a histogram with ~8 µs buckets, so 0.055 vs 0.063 is one bucket; "
        "the mean is not bucketed).",
        f"new conns/s: wrk -t1 -c50 -d{s.connection_seconds}s -H 'Connection: close' against a "
        "static haproxy HTTP server; every request is a new TCP connection through the proxy.",
        f"memory per idle link: {s.idle_links} idle links via redis-server, (after - before) / "
        "links; VmRSS of the proxy, for socat the summed Pss of its forks.",
        "proxy CPU rows: the proxy's user + system time over that run (/proc/PID/stat; socat: "
        "its group and its reaped forks) per GB received, per request (SET + GET), per connection.",
        "faultline-serve: `faultline serve`, the proxy made through its API as toxiproxy's is; "
        "the ratios above compare it with faultline proxy and toxiproxy (lower=better rows: "
        "above 1 is worse).",
    ]
