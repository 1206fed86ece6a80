"""The upstream servers and the proxies compared, each started fresh on free loopback ports."""
import json
import resource
import socket
import sys
import urllib.error
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


SINK = Path(__file__).with_name("tls_sink.py")


def start_sink(sup: Supervisor, tag: str, tls: "TLSFiles | None" = None) -> Service:
    """harness/tls_sink.py: takes or sends N bytes per connection (the TLS bulk rows); with
    `tls`, it terminates TLS itself (the direct column)."""
    port = free_port()
    argv = [sys.executable, str(SINK), str(port)]
    if tls:
        argv += [str(tls.chain), str(tls.key)]
    return _listening(sup.start(f"{tag}-sink{'-tls' if tls else ''}", argv), port)


# The HTTP section's static files: name -> size in bytes (served by nginx from its work directory).
NGINX_FILES = {"1k.bin": 1024, "64k.bin": 65536}


def start_nginx(sup: Supervisor, tag: str, workers: int = 1) -> Service:
    """nginx (Debian's) serving NGINX_FILES from `logs/nginx/`, as a non-daemon child with its
    own generated config: `workers` worker processes, no access log, keep-alive connections
    that last the whole run (keepalive_requests 10M, 5 min idle), sendfile on."""
    work = Path(sup.log_dir) / "nginx"
    www = work / "www"
    if not www.exists():
        www.mkdir(parents=True)
        for name, size in NGINX_FILES.items():
            (www / name).write_bytes(bytes(ord("a") + i % 26 for i in range(size)))
    port = free_port()
    # Root's nginx drops its workers to `nobody`: every directory above www must be readable
    # and searchable by others (true of the repository; the logs directory is made 0755).
    for path in (work, www):
        path.chmod(0o755)
    temp = work / "temp"  # nginx makes the directories in it; no request here uses them
    temp.mkdir(exist_ok=True)
    config = work / f"{tag}.conf"
    config.write_text(f"""worker_processes {workers};
pid {work / f"{tag}.pid"};
error_log stderr warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {www};
    }}
}}
""")
    # -e: the error log before the config is read (else /var/log/nginx/error.log)
    service = sup.start(f"{tag}-nginx", ["nginx", "-p", str(work), "-c", str(config),
                                          "-e", "stderr", "-g", "daemon off;"])
    return _listening(service, port)


UPSTREAMS = {"iperf3": start_iperf, "redis": start_redis, "http": start_http, "sink": start_sink,
             "nginx": start_nginx}


# --- peers: the things measured ----------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    """Where the client connects, and the proxy process behind it (None when direct)."""

    port: int
    service: Service | None
    api: int | None = None  # the control API's port, for the peers made through one


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
    def __init__(self, maxconn: int, threads: int | None = None):
        """threads=None: its default (one per CPU); the Redis section adds an nbthread 1 column."""
        self.maxconn = maxconn
        self.threads = threads
        self.name = "haproxy" if threads is None else f"haproxy-{threads}t"

    def start(self, sup, upstream, tag):
        port = free_port()
        # Defaults otherwise (threads = nproc, no forced splicing): only maxconn is raised so
        # that the idle-link test's 5,000 links fit, and timeouts so idle links stay open.
        threads = f"    nbthread {self.threads}\n" if self.threads else ""
        config = f"""global
    maxconn {self.maxconn}
{threads}defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
listen bench
    bind 127.0.0.1:{port}
    server upstream 127.0.0.1:{upstream}
"""
        return Endpoint(port, _listening(_start_haproxy(sup, f"{tag}-{self.name}", config), port))


class HAProxyHTTP(Peer):
    """`mode http`: a `listen` section with one server and `http-reuse safe` (HAProxy's default,
    written out), maxconn and timeouts as in `HAProxy`. threads=None: its default (one per CPU);
    else `nbthread N` and the column haproxy-Nt."""

    def __init__(self, maxconn: int = 1000, reuse: str = "safe", threads: int | None = None):
        self.maxconn = maxconn
        self.reuse = reuse
        self.threads = threads
        self.name = "haproxy" if threads is None else f"haproxy-{threads}t"

    def start(self, sup, upstream, tag):
        port = free_port()
        threads = f"    nbthread {self.threads}\n" if self.threads else ""
        config = f"""global
    maxconn {self.maxconn}
{threads}defaults
    mode http
    timeout connect 5s
    timeout client 5m
    timeout server 5m
listen bench
    bind 127.0.0.1:{port}
    http-reuse {self.reuse}
    server upstream 127.0.0.1:{upstream}
"""
        return Endpoint(port, _listening(_start_haproxy(sup, f"{tag}-{self.name}", config), port))


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


class APIPeer(Peer):
    """A proxy made through Toxiproxy's HTTP API: the server starts with no proxy, then
    `POST /proxies {"name": "bench", "listen": …, "upstream": …, "enabled": true}` and one
    `POST /proxies/bench/toxics` per toxic, before any client connects. Toxiproxy and
    `faultline serve` get the same calls and the same bodies, from the same code."""

    name = ""
    PROXY = "bench"

    def __init__(self, toxics: tuple[dict, ...] = ()):
        """`toxics`: bodies for POST /proxies/bench/toxics, added before any client connects."""
        self.toxics = toxics

    def argv(self, api: int) -> list[str]:
        raise NotImplementedError

    def start(self, sup, upstream, tag):
        api, port = free_port(), free_port()
        service = _listening(sup.start(f"{tag}-{self.name}", self.argv(api)), api)
        _post(api, "/proxies", {"name": self.PROXY, "listen": f"127.0.0.1:{port}",
                                "upstream": f"127.0.0.1:{upstream}", "enabled": True}, self.name)
        for toxic in self.toxics:
            _post(api, f"/proxies/{self.PROXY}/toxics", toxic, self.name)
        wait_listening(service, port)
        return Endpoint(port, service, api)


class Toxiproxy(APIPeer):
    name = "toxiproxy"

    def __init__(self, binary: str, toxics: tuple[dict, ...] = ()):
        super().__init__(toxics)
        self.binary = binary

    def argv(self, api):
        return [self.binary, "-host", "127.0.0.1", "-port", str(api)]


class FaultlineServe(APIPeer):
    """`faultline serve --api 127.0.0.1:API --log-level warning`, driven exactly as the
    Toxiproxy column is. In serve mode every proxy's events feed /metrics and /events, so its
    data path may cost more than `faultline proxy`'s: this column says how much."""

    name = "faultline-serve"

    def __init__(self, binary: str, toxics: tuple[dict, ...] = ()):
        super().__init__(toxics)
        self.binary = binary

    def argv(self, api):
        return [self.binary, "serve", "--api", f"127.0.0.1:{api}", "--log-level", "warning"]


class Faultline(Peer):
    def __init__(self, binary: str, splice: bool = True, faults: tuple[str, ...] = (),
                 protocol: str | None = None, name: str | None = None):
        """`faults`: --fault specs, which apply to every connection from the start.
        `protocol`: given as --protocol (tcp, redis, http); None leaves faultline's default (tcp).
        `name`: the column, when it is not the default one."""
        self.binary = binary
        self.splice = splice
        self.faults = faults
        self.protocol = protocol
        self.name = name or ("faultline" if splice else "faultline-buffered")

    def start(self, sup, upstream, tag):
        port = free_port()
        argv = [self.binary, "proxy", "--listen", f"127.0.0.1:{port}",
                "--upstream", f"127.0.0.1:{upstream}", "--log-level", "warning"]
        if self.protocol:
            argv += ["--protocol", self.protocol]
        if not self.splice:
            argv.append("--no-splice")
        for fault in self.faults:
            argv += ["--fault", fault]
        return Endpoint(port, _listening(sup.start(f"{tag}-{self.name}", argv), port))


# --- the TLS section's peers: TLS terminated, a plain upstream behind --------------------------

@dataclass(frozen=True)
class TLSFiles:
    """One certificate for every peer, from faultline's CA in `workdir`/.faultline/ca."""

    workdir: Path  # faultline runs here, so its CA (and its leaf) come from the same root
    key_type: str  # ec (P-256) or rsa (2048)
    chain: Path  # leaf + intermediate
    key: Path
    root: Path  # the trusted root, for clients that verify
    haproxy_pem: Path  # chain + key, as haproxy's `crt` wants them


def make_tls_files(sup: Supervisor, faultline: str, workdir: Path, key_type: str) -> TLSFiles:
    """`faultline certs --profile valid --host localhost`: the CA made on first use in
    `workdir`/.faultline/ca, the same one `faultline proxy --tls-profile` signs with there."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "certs"
    sup.run([faultline, "certs", "--profile", "valid", "--host", "localhost", "--key", key_type,
             "--out", str(out)], timeout=30, cwd=workdir)
    pem = out / "haproxy.pem"
    pem.write_text((out / "cert.pem").read_text() + (out / "key.pem").read_text())
    return TLSFiles(workdir, key_type, out / "cert.pem", out / "key.pem",
                    workdir / ".faultline/ca/root.pem", pem)


class DirectTLS(Direct):
    """The client's TLS ends in the sink itself (Python's ssl, the same certificate): no proxy.
    Only the bulk rows have it, to show what the client reaches without a proxy."""

    def __init__(self, tls: TLSFiles):
        self.tls = tls

    def start(self, sup, upstream, tag):
        sink = start_sink(sup, tag, self.tls)
        return Endpoint(sink.port, sink)


class HAProxyTLS(Peer):
    """`mode tcp`, `bind … ssl crt` with the same chain and key as faultline's, TLS 1.3 only and
    pinned to TLS_AES_256_GCM_SHA384 (what faultline negotiates with OpenSSL's defaults).
    threads=None: its default (one per CPU); the like-for-like column has nbthread 1."""

    def __init__(self, tls: TLSFiles, maxconn: int, threads: int | None = None):
        self.tls = tls
        self.maxconn = maxconn
        self.threads = threads
        self.name = "haproxy" if threads is None else f"haproxy-{threads}t"

    def start(self, sup, upstream, tag):
        port = free_port()
        self.stats = Path(sup.log_dir) / f"{tag}-{self.name}.sock"
        threads = f"    nbthread {self.threads}\n" if self.threads else ""
        config = f"""global
    maxconn {self.maxconn}
{threads}    stats socket {self.stats} level user
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
listen bench
    bind 127.0.0.1:{port} ssl crt {self.tls.haproxy_pem} ssl-min-ver TLSv1.3 ciphersuites TLS_AES_256_GCM_SHA384
    server upstream 127.0.0.1:{upstream}
"""
        return Endpoint(port, _listening(_start_haproxy(sup, f"{tag}-{self.name}", config), port))

    def info(self) -> dict[str, str]:
        """`show info` from its stats socket: SslRate, SslFrontendSessionReuse_pct, …"""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(self.stats))
            sock.sendall(b"show info\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return dict(line.split(": ", 1) for line in data.decode().splitlines() if ": " in line)


class FaultlineTLS(Peer):
    """`faultline proxy --tls-profile valid --tls-host localhost --tls-key K`, started in the
    work directory whose CA made the haproxy column's certificate."""

    name = "faultline"

    def __init__(self, binary: str, tls: TLSFiles):
        self.binary = binary
        self.tls = tls

    def start(self, sup, upstream, tag):
        port = free_port()
        argv = [self.binary, "proxy", "--listen", f"127.0.0.1:{port}",
                "--upstream", f"127.0.0.1:{upstream}", "--tls-profile", "valid",
                "--tls-host", "localhost", "--tls-key", self.tls.key_type, "--log-level", "warning"]
        service = sup.start(f"{tag}-{self.name}", argv, cwd=self.tls.workdir)
        # An RSA leaf is generated at start: give it more than the usual 10 s on a busy machine.
        wait_listening(service, port, timeout=30)
        service.port = port
        return Endpoint(port, service)


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


def _post(api: int, path: str, body: dict, who: str = "toxiproxy") -> None:
    """One call to a Toxiproxy-style HTTP API; a refusal is a BenchError naming what was sent."""
    request = urllib.request.Request(f"http://127.0.0.1:{api}{path}", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            reply.read()
    except urllib.error.HTTPError as error:
        said = error.read().decode(errors="replace").strip()[:200]
        raise BenchError(f"{who} API refused POST {path} {body}: {error.code} {said}") from None
    except OSError as error:
        raise BenchError(f"{who} API refused POST {path} {body}: {error}") from None


def _listening(service: Service, port: int) -> Service:
    wait_listening(service, port)
    service.port = port
    return service
