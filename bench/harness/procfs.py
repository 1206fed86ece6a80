"""What the kernel says: free ports, listening sockets, connection counts, process memory."""
import os
import random
import socket
import time
from collections.abc import Callable
from pathlib import Path

from .procs import BenchError, Service

TCP_ESTABLISHED = "01"
TCP_LISTEN = "0A"

_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on, chosen below the ephemeral range.

    A port from bind(0) lies inside ip_local_port_range, where the thousands of outgoing
    connections the benchmarks open could take it between now and the server's bind.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        port = random.randrange(10000, max(low, 10001))
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise BenchError("no free loopback port below the ephemeral range")


def _tcp_rows():
    """(local_port, remote_port, state, rx_queue) for every IPv4 and IPv6 TCP socket."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
                yield (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16),
                       state, int(queues.split(":")[1], 16))


def is_listening(port: int) -> bool:
    return any(lp == port and st == TCP_LISTEN for lp, _, st, _ in _tcp_rows())


def accept_backlog(port: int) -> int:
    """Connections the kernel completed on `port` that the process has not accept()ed yet."""
    return sum(rx for lp, _, st, rx in _tcp_rows() if lp == port and st == TCP_LISTEN)


def established_to(port: int) -> int:
    """Established connections whose far end is `port` (i.e. opened towards that server)."""
    return sum(1 for _, rp, st, _ in _tcp_rows() if rp == port and st == TCP_ESTABLISHED)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               service: Service | None = None) -> None:
    """Poll `condition`; fail early if `service` dies, with its exit note."""
    deadline = time.monotonic() + timeout
    while not condition():
        if service is not None and (note := service.exit_note()):
            raise BenchError(note)
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def wait_listening(service: Service, port: int, timeout: float = 10.0) -> None:
    # Reading the socket table instead of connecting: a probe connection would count as a
    # client (iperf3 -s treats it as a test that failed).
    wait_until(lambda: is_listening(port), timeout, f"{service.name} to listen on {port}", service)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        raise BenchError(f"pid {pid} is gone") from None
    # utime and stime are fields 14 and 15; the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_pss_kb(pgid: int) -> int:
    """Summed Pss of every process in a process group.

    Pss, not Rss: socat's forks share most of their pages, and summing their Rss would count
    libc and socat's text once per connection.
    """
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Field 5 is the process group; the command name (field 2) may contain spaces.
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            rollup = (stat.parent / "smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # exited meanwhile
        total += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
    return total


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time so far of every process in a process group (nginx's master and
    its workers), read from each one's /proc/PID/stat."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
        # Field 5 is the process group; utime and stime are fields 14 and 15.
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def proxy_cpu_seconds(pid: int) -> float:
    """CPU time so far of a proxy that may fork (socat): the user + system time of every live
    process in its group (`pid` leads it), plus the leader's reaped children (cutime + cstime),
    where a fork's time goes once it has exited and been waited for. For a proxy that does not
    fork this is its own user + system time."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        raise BenchError(f"pid {pid} is gone") from None
    # cutime and cstime are fields 16 and 17; the split starts at field 3.
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return group_cpu_seconds(pid) + reaped
