"""How much CPU other work took during the run.

Proxy, client and upstream already share the cores, so anything else running skews every
figure. The CPU time the machine spent in user and system mode, minus what this process and
its reaped children spent, is what others took. softirq and irq time are left out on both
sides: where the kernel accounts them separately, a process's system time excludes them too.
"""
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

_TICK = 1 / os.sysconf("SC_CLK_TCK")


def _machine_seconds() -> float:
    user, nice, system = (int(n) for n in Path("/proc/stat").read_text().split()[1:4])
    return (user + nice + system) * _TICK


def machine_busy_seconds() -> float:
    """CPU time all CPUs spent in user and system mode so far (softirq and irq left out)."""
    return _machine_seconds()


def _own_seconds() -> float:
    # Children count once reaped; the supervisor waits for every one it stops.
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


@dataclass
class LoadMeter:
    started: float = field(default_factory=time.monotonic)
    machine: float = field(default_factory=_machine_seconds)
    own: float = field(default_factory=_own_seconds)

    def others_percent(self) -> float:
        """Share of all CPUs' time since creation that went to processes not ours."""
        wall = (time.monotonic() - self.started) * (os.cpu_count() or 1)
        others = (_machine_seconds() - self.machine) - (_own_seconds() - self.own)
        return max(0.0, 100 * others / wall) if wall > 0 else 0.0
