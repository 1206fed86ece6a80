"""The TLS section: faultline terminating TLS to a plain upstream, against HAProxy doing the same.

Every column presents the same certificate: a P-256 (or, with BENCH_TLS_KEY=rsa, RSA-2048)
leaf and its intermediate from the faultline CA made in the section's work directory
(`faultline certs` writes HAProxy's copy; `faultline proxy --tls-profile valid` runs there).
HAProxy is pinned to TLS 1.3 and TLS_AES_256_GCM_SHA384, which is what faultline negotiates
with OpenSSL's defaults; a probe handshake per trial records what each column negotiated.

HAProxy runs twice: with its default threads (one per CPU, as in the other sections) and with
`nbthread 1`. faultline runs one event loop by design and handshakes are CPU-bound, so the
1-thread column is the like-for-like comparison.

Rows (each with the proxy's CPU per operation under it, from /proc/PID/stat):
- new TLS connections/s, full handshakes: `openssl s_time -new` clients side by side;
- new TLS connections/s, resumed: wrk -c50 with `Connection: close` (wrk keeps its session
  across reconnects, so all but its first 50 handshakes resume: HAProxy's counters say so);
- keep-alive requests/s over TLS: wrk -c50;
- one TLS connection's bulk throughput each way (Python ssl client, harness/tls_sink.py);
- memory per idle TLS link: handshakes done, VmRSS delta / links.
"""
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .measures import (full_handshakes, idle_link_kb, tls_bulk_gbps, tls_link_opener, tls_probe,
                       tls_warmup, wrk_rate)
from .procfs import cpu_seconds
from .procs import BenchError, Supervisor
from .report import cell_text, footnote_lines, grid, section_json
from .servers import (DirectTLS, FaultlineTLS, HAProxyTLS, Peer, TLSFiles, haproxy_maxconn,
                      make_tls_files)
from .suites import Metric, Runner, Settings, Suite, Trial

DIRECT, HAPROXY, HAPROXY_1T, FAULTLINE = "direct", "haproxy", "haproxy-1t", "faultline"
REFERENCES = ((HAPROXY, "h"), (HAPROXY_1T, "h1"))
GIB = 1 << 30
# The rows the target (>= 1.0x HAProxy) applies to; the CPU rows under them explain.
TARGET_ROWS = ("tls_full", "tls_resumed", "tls_keepalive", "tls_up", "tls_down", "tls_idle_kb")


@dataclass
class TLSSection:
    """What the section shares: the certificate files, and what each column negotiated."""

    settings: Settings
    files: TLSFiles
    negotiated: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def probe(self, t: Trial) -> None:
        """One handshake with openssl s_client: protocol, cipher, group, signature, chain."""
        found = tls_probe(t.sup, t.endpoint.port, self.files.root)
        seen = self.negotiated.setdefault(t.peer.name, [])
        if found not in seen:
            seen.append(found)
        if found["verification"] != "OK":
            raise BenchError(f"the chain did not verify: {found['verification']}")


def make_tls_section(sup: Supervisor, settings: Settings, faultline: str,
                     workdir: Path) -> tuple[TLSSection, list[Peer], list[Suite]]:
    files = make_tls_files(sup, faultline, workdir, settings.tls_key)
    section = TLSSection(settings, files)
    maxconn = haproxy_maxconn(settings.tls_idle_links)
    peers: list[Peer] = [DirectTLS(files), HAProxyTLS(files, maxconn), HAProxyTLS(files, maxconn, 1),
                         FaultlineTLS(faultline, files)]
    return section, peers, _suites(section)


# --- what is measured ------------------------------------------------------------------------

def _suites(section: TLSSection) -> list[Suite]:
    s = section.settings
    rate = dict(digits=0)
    cpu_us = dict(unit="µs", digits=0, higher_is_better=False)
    gbps = dict(unit="Gbit/s", digits=2)
    cpu_gib = dict(unit="ms/GiB", digits=0, higher_is_better=False)
    return [
        Suite("https", "http", [
            Metric("tls_full", "new TLS conns/s, full handshake (s_time -new)", "conn/s", **rate),
            Metric("tls_full_cpu", "  proxy CPU per full handshake, µs (lower=better)", **cpu_us),
            Metric("tls_resumed", "new TLS conns/s, resumed (wrk Connection: close)", "conn/s", **rate),
            Metric("tls_resumed_cpu", "  proxy CPU per resumed handshake, µs (lower=better)", **cpu_us),
            Metric("tls_keepalive", "keep-alive TLS req/s (wrk -c50)", "req/s", **rate),
            Metric("tls_keepalive_cpu", "  proxy CPU per request, µs (lower=better)", **cpu_us),
        ], _https(section), repeats=s.tls_repeats, needs_proxy=True),
        Suite("tls-bulk", "sink", [
            Metric("tls_up", "1 TLS conn, client -> upstream, Gbit/s", **gbps),
            Metric("tls_up_cpu", "  proxy CPU per GiB up, ms (lower=better)", **cpu_gib),
            Metric("tls_down", "1 TLS conn, upstream -> client, Gbit/s", **gbps),
            Metric("tls_down_cpu", "  proxy CPU per GiB down, ms (lower=better)", **cpu_gib),
        ], _bulk(section), repeats=s.tls_repeats),
        Suite("tls-idle", "redis", [
            Metric("tls_idle_kb", "memory per idle TLS link, KB (lower=better)", "KB", 2,
                   higher_is_better=False),
        ], _idle(section), needs_proxy=True),
    ]


def _cpu(t: Trial) -> float:
    return cpu_seconds(t.endpoint.service.pid)


def _reuse_reader(t: Trial, into: dict) -> Callable[[], None] | None:
    """For an HAProxy column: read its TLS counters three quarters into a run (handshakes/s
    and the share resumed, over about the last second), as evidence of what the client did."""
    if not isinstance(t.peer, HAProxyTLS):
        return None
    peer = t.peer

    def read() -> None:
        try:
            info = peer.info()
        except OSError as error:
            into["haproxy_info_error"] = str(error)
            return
        into["haproxy_ssl_rate"] = int(info.get("SslRate", -1))
        into["haproxy_full_handshake_rate"] = int(info.get("SslFrontendKeyRate", -1))
        into["haproxy_reuse_pct"] = int(info.get("SslFrontendSessionReuse_pct", -1))
    return read


def _https(section: TLSSection):
    def measure(t: Trial):
        s, port = t.settings, t.endpoint.port
        section.probe(t)
        seen: dict = {}
        before = _cpu(t)
        value, raw = full_handshakes(t.sup, port, s.tls_seconds, s.tls_handshake_clients,
                                     section.files.root, midway=_reuse_reader(t, seen))
        used = _cpu(t) - before
        count = sum(raw["connections"])
        yield "tls_full", value, {**raw, **seen}
        yield "tls_full_cpu", used * 1e6 / count, {"cpu_s": used, "operations": count}
        url = f"https://localhost:{port}/"
        for key, close in (("tls_resumed", True), ("tls_keepalive", False)):
            seen = {}
            before = _cpu(t)
            value, raw = wrk_rate(t.sup, url, s.tls_seconds, close=close,
                                  midway=_reuse_reader(t, seen) if close else None)
            used = _cpu(t) - before
            yield key, value, {**raw, **seen}
            yield f"{key}_cpu", used * 1e6 / raw["requests"], {"cpu_s": used,
                                                               "operations": raw["requests"]}
    return measure


def _bulk(section: TLSSection):
    def measure(t: Trial):
        section.probe(t)
        size = t.settings.tls_bulk_mib << 20
        for key, upload in (("tls_up", True), ("tls_down", False)):
            before = _cpu(t)
            value, raw = tls_bulk_gbps(t.endpoint.port, upload, size, section.files.root)
            used = _cpu(t) - before
            yield key, value, raw
            # The direct column's process is the sink itself: no proxy to charge.
            if not isinstance(t.peer, DirectTLS):
                yield f"{key}_cpu", used * 1000 / (size / GIB), {"cpu_s": used, "bytes": size}
    return measure


def _idle(section: TLSSection):
    def measure(t: Trial):
        section.probe(t)
        root = section.files.root
        yield "tls_idle_kb", *idle_link_kb(t.peer, t.endpoint, t.upstream_port,
                                           t.settings.tls_idle_links, opener=tls_link_opener(root),
                                           warmup=tls_warmup(root))
    return measure


# --- the table -------------------------------------------------------------------------------

def render_tls(section: TLSSection, runner: Runner) -> str:
    s = section.settings
    peers = list(next(iter(runner.results.values())))
    footnotes: dict[str, int] = {}
    rows = [["TLS (terminated, plain upstream)", *peers]]
    for metric in runner.metrics:
        cells = runner.results[metric.key]
        rows.append([metric.label, *(cell_text(metric, cells, peer, footnotes, REFERENCES) for peer in peers)])
    warning = " -- figures are noisy" if runner.others_percent > 5 else ""
    lines = [f"other processes used {runner.others_percent:.0f}% of the CPU time during this "
             f"section{warning}", *_negotiated(section), *grid(rows), *footnote_lines(footnotes),
             "", *_targets(runner), "", *_legend(s)]
    if runner.notes:
        lines += ["", "Notes:", *(f"  - {note}" for note in runner.notes)]
    return "\n".join(lines)


def tls_json(section: TLSSection, runner: Runner, table: str) -> dict:
    return {**section_json(runner, table), "negotiated": section.negotiated,
            "key": section.settings.tls_key}


def _negotiated(section: TLSSection) -> list[str]:
    def text(found: dict[str, str]) -> str:
        return (f"{found['protocol']} {found['cipher']}, key exchange {found['group']}, "
                f"{found['signature']} signature, chain {found['verification']}")
    kinds = {text(found) for seen in section.negotiated.values() for found in seen}
    key = "P-256" if section.settings.tls_key == "ec" else "RSA-2048"
    lines = [f"certificate: {key} leaf + intermediate from faultline's CA, the same files in every column"]
    if len(kinds) == 1:
        return lines + [f"negotiated (openssl s_client, every column): {kinds.pop()}"]
    lines.append("negotiated DIFFERS between columns (the figures do not compare like for like):")
    return lines + [f"  {peer}: {'; '.join(text(found) for found in seen)}"
                    for peer, seen in section.negotiated.items()]


def _targets(runner: Runner) -> list[str]:
    """faultline against each HAProxy column: as good or better on every row."""
    metrics = [m for m in runner.metrics if m.key in TARGET_ROWS]
    width = max(len(m.label) for m in metrics) + 2
    lines = ["Target: faultline >= 1.00x HAProxy".ljust(width)
             + "".join(f"vs {name:<22}" for name, _ in REFERENCES)]
    for metric in metrics:
        cells = runner.results[metric.key]
        verdicts = []
        for name, _ in REFERENCES:
            mine, theirs = cells[FAULTLINE].value, cells[name].value
            if mine is None or not theirs:
                verdicts.append("no figure".ljust(25))
                continue
            # "as good": at least their rate, at most their memory
            ratio = mine / theirs
            ok = ratio >= 1.0 if metric.higher_is_better else ratio <= 1.0
            verdicts.append(f"{'PASS' if ok else 'FAIL'} ({ratio:.2f}x)".ljust(25))
        lines.append(metric.label.ljust(width) + "".join(verdicts))
    return [line.rstrip() for line in lines]


def _legend(s: Settings) -> list[str]:
    runs = f"median of {s.tls_repeats} runs, peers interleaved" if s.tls_repeats > 1 else "1 run"
    return [
        "Cells: figure (ratio to HAProxy with its default threads ×h, to HAProxy nbthread 1 ×h1); "
        "for lower=better rows a ratio above 1 is worse.",
        "haproxy: mode tcp, `bind … ssl crt`, its default threads (one per CPU); haproxy-1t: the "
        "same with nbthread 1, like for like with faultline's one event loop.",
        f"full handshakes: {s.tls_handshake_clients} x `openssl s_time -new -tls1_3 -time "
        f"{s.tls_seconds} -www /` side by side: a new session (no resumption) for every "
        f"connection, one GET through the proxy to the static HTTP server; summed count / wall "
        f"time. This row and the two wrk rows: {runs}.",
        f"resumed: `wrk -t1 -c50 -d{s.tls_seconds}s -H 'Connection: close' https://localhost:P/`: "
        "wrk keeps its TLS session across reconnects, so after its first 50 every handshake is a "
        "TLS 1.3 PSK resumption (HAProxy's counters, in the JSON: haproxy_reuse_pct).",
        f"keep-alive: `wrk -t1 -c50 -d{s.tls_seconds}s https://localhost:P/`, 50 handshakes then "
        "requests on open connections.",
        f"bulk: {s.tls_bulk_mib} MiB each way through one TLS connection (Python ssl client, "
        f"1 MiB writes) to a plain sink (harness/tls_sink.py), {runs}; direct = the sink terminates "
        "TLS itself: the client's ceiling.",
        f"idle: {s.tls_idle_links} TLS links to redis-server, handshakes done, after one warm-up "
        "handshake; (VmRSS after - before) / links.",
        "proxy CPU: utime+stime of the proxy process (all threads) during that run, per operation.",
    ]
