#!/usr/bin/env python3
"""A memory API client written the way the incident's was, and what the scenarios in scenarios/ catch.

It plays the same small service as memory_client_correct.py (list the memory API's users every
--interval, until --duration has passed), with the incident's mistakes:

  * Version discovery on every init. Each request cycle builds a new client, and each new
    client asks v2 first (`GET /api/v2/users`), falling back to v1 on a 404, and forgets it:
    a deployment without v2 answers 404 on every single cycle.
  * A new session (a new connection) per cycle, no keep-alive reuse.
  * The incident's timeout: --timeout 5 (the "Read timed out. (read timeout=5)" of the logs);
    --timeout 0 waits forever, requests' default.
  * No circuit breaker, no backoff, no fallback. A failed cycle is retried at once, in each of
    --threads workers (8): while the API is slow, every worker sits on a request, times out and
    asks again at the same moment as the others, a retry storm.

One line per request, stamped with the seconds since the client started (an error already
printed is counted instead, and the count printed once a second). It ends at --duration even
if requests still hang, and exits 0 whatever happened; under `faultline run`, the scenario's
expectations judge it:

    faultline run scenarios/memory-api-v2-404.yaml -- python3 examples/memory_client_naive.py --port 18080 --duration 8
    faultline run scenarios/memory-api-timeouts-breaker.yaml -- python3 examples/memory_client_naive.py --port 18082 --duration 22
"""
import argparse
import sys
import threading
import time

import requests


class MemoryAPI:
    """A fresh client per cycle, which knows nothing an earlier one learnt."""

    def __init__(self, base: str, timeout):
        self.session = requests.Session()
        self.base, self.timeout = base, timeout
        self.version = None

    def list_users(self, say) -> list:
        # Discovery on every init: v2 first, then v1 after a 404.
        response = self.session.get(self.base + "/api/v2/users", timeout=self.timeout)
        if response.status_code == 404:
            say(f"error GET /api/v2/users: {response.status_code} {response.reason} (trying v1)")
            response = self.session.get(self.base + "/api/v1/users", timeout=self.timeout)
            response.raise_for_status()
            users = response.json()
            say(f"ok GET /api/v1/users: {len(users)} users")
            return users
        response.raise_for_status()
        users = response.json()["data"]
        say(f"ok GET /api/v2/users: {len(users)} users")
        return users

    def close(self) -> None:
        self.session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080,
                        help="where the memory API (or faultline in front of it) listens (default 18080)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds to run; at least the scenario's timeline (default 20)")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds each worker waits after a successful cycle (default 0.5)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="read timeout in seconds, 0 for none (default 5, the incident's)")
    parser.add_argument("--threads", type=int, default=8,
                        help="workers, each running its own request cycles (default 8)")
    args = parser.parse_args()

    started = time.monotonic()
    base = f"http://{args.host}:{args.port}"
    timeout = args.timeout or None
    lock = threading.Lock()
    repeated = {}  # error text -> times seen since it was last printed
    flushed = [started]

    def say(text: str) -> None:
        # An error already printed is counted instead, and the counts printed once a second.
        with lock:
            if text in repeated:
                repeated[text] += 1
            else:
                print(f"{time.monotonic() - started:.3f} {text}", flush=True)
                if text.startswith("error"):
                    repeated[text] = 0
            if time.monotonic() - flushed[0] >= 1:
                flush()

    def flush() -> None:
        for text, count in repeated.items():
            if count:
                print(f"{time.monotonic() - started:.3f} {text} (repeated {count} times)", flush=True)
        repeated.clear()
        flushed[0] = time.monotonic()

    def worker() -> None:
        while time.monotonic() - started < args.duration:
            api = MemoryAPI(base, timeout)  # re-init on every cycle
            try:
                api.list_users(say)
                time.sleep(args.interval)
            except (requests.RequestException, ValueError) as error:
                say(f"error {type(error).__name__}: {error}")  # and again, at once
            finally:
                api.close()

    for _ in range(args.threads):
        threading.Thread(target=worker, daemon=True).start()
    while time.monotonic() - started < args.duration:
        time.sleep(0.1)
    with lock:
        flush()
    # Workers still waiting on a response (no timeout) are daemon threads: the process ends anyway.
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
