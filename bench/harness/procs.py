"""Starting and stopping child processes.

Every child runs in its own session (so its own process group) and is stopped by signalling
that group: this reaches socat's per-connection forks too, and never touches a process the
harness did not start. Children in their own session do not get the terminal's Ctrl-C, so the
harness must stop them itself, which `Supervisor.stop_all` does from a `finally`.
"""
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class BenchError(Exception):
    """A measurement could not be taken; the message says why, in one line."""


@dataclass
class Service:
    """A long-running child (an upstream or a proxy) and where its output goes."""

    name: str
    proc: subprocess.Popen
    log_path: Path
    port: int = 0  # where it accepts connections, once known

    @property
    def pid(self) -> int:
        return self.proc.pid

    def exit_note(self) -> str | None:
        """None while running; otherwise how it ended plus the end of its log."""
        code = self.proc.poll()
        if code is None:
            return None
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        tail = log_tail(self.log_path)
        return f"{self.name} {how}" + (f"; log: {tail}" if tail else "")


@dataclass
class Supervisor:
    """Owns every child the harness starts; `stop_all` leaves nothing behind."""

    log_dir: Path
    _children: list[subprocess.Popen] = field(default_factory=list)

    def start(self, name: str, argv: list[str], cwd: Path | None = None) -> Service:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, cwd=cwd,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self._children.append(proc)
        return Service(name, proc, log_path)

    def run(self, argv: list[str], timeout: float, cwd: Path | None = None,
            merge_stderr: bool = False) -> str:
        """Run a client to completion and return its stdout (and stderr after it when
        `merge_stderr`); BenchError if it fails or hangs."""
        return self.run_parallel([argv], timeout, cwd=cwd, merge_stderr=merge_stderr)[0]

    def run_parallel(self, argvs: list[list[str]], timeout: float, cwd: Path | None = None,
                     merge_stderr: bool = False,
                     midway: tuple[float, Callable[[], None]] | None = None) -> list[str]:
        """Run clients side by side to completion; their outputs in order. `midway`:
        (seconds, call) runs `call` that long after the start, while they still run."""
        started = time.monotonic()
        procs = []
        try:
            for argv in argvs:
                procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True, cwd=cwd,
                                              start_new_session=True))
                self._children.append(procs[-1])
            if midway:
                time.sleep(max(0.0, started + midway[0] - time.monotonic()))
                midway[1]()
            outputs = []
            for argv, proc in zip(argvs, procs):
                try:
                    out, err = proc.communicate(timeout=max(0.1, started + timeout - time.monotonic()))
                except subprocess.TimeoutExpired:
                    raise BenchError(f"{Path(argv[0]).name} did not finish within {timeout:.0f} s") from None
                if proc.returncode != 0:
                    detail = (err.strip() or out.strip())[-300:]
                    raise BenchError(f"{Path(argv[0]).name} exited with code {proc.returncode}: {detail}")
                outputs.append(out + err if merge_stderr else out)
            return outputs
        finally:
            for proc in procs:
                self._stop(proc)

    def stop(self, service: Service) -> None:
        self._stop(service.proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self._children)):
            self._stop(proc)

    def _stop(self, proc: subprocess.Popen, grace: float = 4.0) -> None:
        # faultline drains open links for up to 2 s on SIGTERM, hence the grace period.
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        # A fork (socat's) may outlive its parent; the group id is still ours to sweep.
        _signal_group(proc, signal.SIGKILL)
        if proc in self._children:
            self._children.remove(proc)


def _signal_group(proc: subprocess.Popen, signo: int) -> None:
    try:
        os.killpg(proc.pid, signo)
    except ProcessLookupError:
        pass


def log_tail(path: Path, chars: int = 400) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        return ""
    return " | ".join(" ".join(line.split()) for line in text[-chars:].splitlines() if line.strip())
