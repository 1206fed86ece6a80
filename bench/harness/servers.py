"""The upstream servers and the proxies compared, each started fresh on free loopback ports."""
import json
import resource
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .procfs import free_port, group_pss_kb, rss_kb, wait_listening
from .procs import BenchError, Service, Supervisor


# --- upstreams -------------------------------------------------------------------------------

def start_iperf(sup: Supervisor, tag: str) -> Service:
    port = free_port()
    service = sup.start(f"{tag}-iperf3", ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(port)])
    return _listening(service, port)


def start_redis(sup: Supervisor, tag: str) -> Service:
    port = free_port()
    service = sup.start(f"{tag}-redis", [
        "redis-server", "--bind", "127.0.0.1", "--port", str(port),
        "--save", "", "--appendonly", "no", "--maxclients", "10000"])
    return _listening(service, port)


def start_http(sup: Supervisor, tag: str) -> Service:
    """A static HTTP server that answers "ok" from haproxy itself: far above 20k req/s here."""
    port = free_port()
    config = f"""global
    maxconn 4000
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend static
    bind 127.0.0.1:{port}
    http-request return status 200 content-type text/plain string ok
"""
    return _listening(_start_haproxy(sup, f"{tag}-http", config), port)


UPSTREAMS = {"iperf3": start_iperf, "redis": start_redis, "http": start_http}


# --- peers: the things measured ----------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    """Where the client connects, and the proxy process behind it (None when direct)."""

    port: int
    service: Service | None


class Peer:
    """One column of the table: something that forwards 127.0.0.1:port to the upstream."""

    name = ""
    memory_note = "VmRSS"

    def start(self, sup: Supervisor, upstream: int, tag: str) -> Endpoint:
        raise NotImplementedError

    def memory_kb(self, endpoint: Endpoint) -> int:
        return rss_kb(endpoint.service.pid)


class Direct(Peer):
    name = "direct"

    def start(self, sup, upstream, tag):
        return Endpoint(upstream, None)


class HAProxy(Peer):
    name = "haproxy"

    def __init__(self, maxconn: int):
        self.maxconn = maxconn

    def start(self, sup, upstream, tag):
        port = free_port()
        # Defaults otherwise (threads = nproc, no forced splicing): only maxconn is raised so
        # that the idle-link test's 5,000 links fit, and timeouts so idle links stay open.
        config = f"""global
    maxconn {self.maxconn}
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
listen bench
    bind 127.0.0.1:{port}
    server upstream 127.0.0.1:{upstream}
"""
        return Endpoint(port, _listening(_start_haproxy(sup, f"{tag}-haproxy", config), port))


class Socat(Peer):
    name = "socat"
    memory_note = "summed Pss of socat and its forks"

    def start(self, sup, upstream, tag):
        port = free_port()
        service = sup.start(f"{tag}-socat", [
            "socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,backlog=4096",
            f"TCP:127.0.0.1:{upstream}"])
        return Endpoint(port, _listening(service, port))

    def memory_kb(self, endpoint):
        return group_pss_kb(endpoint.service.pid)


class Toxiproxy(Peer):
    name = "toxiproxy"

    def __init__(self, binary: str, toxics: tuple[dict, ...] = ()):
        """`toxics`: bodies for POST /proxies/bench/toxics, added before any client connects."""
        self.binary = binary
        self.toxics = toxics

    def start(self, sup, upstream, tag):
        api, port = free_port(), free_port()
        service = _listening(sup.start(f"{tag}-toxiproxy", [
            self.binary, "-host", "127.0.0.1", "-port", str(api)]), api)
        _post(api, "/proxies", {"name": "bench", "listen": f"127.0.0.1:{port}",
                                "upstream": f"127.0.0.1:{upstream}", "enabled": True})
        for toxic in self.toxics:
            _post(api, "/proxies/bench/toxics", toxic)
        wait_listening(service, port)
        return Endpoint(port, service)


class Faultline(Peer):
    def __init__(self, binary: str, splice: bool = True, faults: tuple[str, ...] = ()):
        """`faults`: --fault specs, which apply to every connection from the start."""
        self.binary = binary
        self.splice = splice
        self.faults = faults
        self.name = "faultline" if splice else "faultline-buffered"

    def start(self, sup, upstream, tag):
        port = free_port()
        argv = [self.binary, "proxy", "--listen", f"127.0.0.1:{port}",
                "--upstream", f"127.0.0.1:{upstream}", "--log-level", "warning"]
        if not self.splice:
            argv.append("--no-splice")
        for fault in self.faults:
            argv += ["--fault", fault]
        return Endpoint(port, _listening(sup.start(f"{tag}-{self.name}", argv), port))


# --- helpers -----------------------------------------------------------------------------------

def haproxy_maxconn(links: int) -> int:
    """The largest maxconn haproxy can honour under our open-files limit.

    haproxy refuses to start when it cannot get 2 fds per connection plus one pipe (2 fds)
    per 4 connections, i.e. 2.5 fds per connection.
    """
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    maxconn = min(20000, (hard - 200) * 2 // 5)
    if maxconn < links + 100:
        raise BenchError(f"RLIMIT_NOFILE hard limit {hard} is too low for {links} idle links "
                         f"through haproxy (needs ~{int((links + 100) * 2.5) + 200})")
    return maxconn


def _start_haproxy(sup: Supervisor, name: str, config: str) -> Service:
    path = Path(sup.log_dir) / f"{name}.cfg"
    path.write_text(config)
    return sup.start(name, ["haproxy", "-db", "-f", str(path)])


def _post(api: int, path: str, body: dict) -> None:
    """One call to Toxiproxy's HTTP API; a refusal is a BenchError naming what was sent."""
    request = urllib.request.Request(f"http://127.0.0.1:{api}{path}", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            reply.read()
    except OSError as error:
        raise BenchError(f"toxiproxy API refused POST {path} {body}: {error}") from None


def _listening(service: Service, port: int) -> Service:
    wait_listening(service, port)
    service.port = port
    return service
