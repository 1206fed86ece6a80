#!/usr/bin/env python3
"""A memory API client that behaves well when the API misbehaves. Copy its patterns into your service.

It plays a small service: every --interval it handles one request, which lists the users of the
memory API (examples/memory_api.py, or faultline in front of it), until --duration seconds have
passed. Like the incident's service it builds a fresh API client on every request cycle; what
makes it correct:

  * Version discovery once per process. The first cycle asks v2 (`GET /api/v2/users`); a 404
    means this deployment has no v2, and that is remembered for the rest of the process: every
    later cycle goes straight to v1. (--api-version v1 skips the probe altogether.) The
    incident's client probed v2 on every init, so every cycle began with a 404.
  * Short timeouts. Connecting and reading give up after --timeout (2 s); requests' default is
    to wait forever.
  * One keep-alive session for the whole process, not a connection per cycle.
  * Retries with backoff. After a failed call the next waits 0.1 s, then 0.2 s, 0.4 s … up to 2 s
    (plus up to 10 % jitter).
  * A circuit breaker (pybreaker). After --fail-max failed calls in a row (timeouts, connection
    errors, 5xx) it opens: calls then fail at once without touching the network, and the
    service answers from its fallback (the last list it saw). After --cooldown one call goes
    through as a probe; it closes the breaker if it succeeds and reopens it if not.

One line per request, stamped with the seconds since the client started:

    0.004 error GET /api/v2/users: 404 Not Found (no v2 here: v1 from now on)
    0.007 ok GET /api/v1/users: 3 users
    5.512 error ReadTimeout: … Read timed out. (read timeout=2.0) (next try in 0.1s)
   13.780 error ReadTimeout: … Read timed out. (read timeout=2.0) (breaker opened)
   14.281 fallback 3 users (breaker open)
   16.785 ok GET /api/v1/users: 3 users

It exits 0 whatever happened: under `faultline run`, the scenario's expectations judge the client
from the network, not this script's exit status. For example:

    faultline run scenarios/memory-api-v2-404.yaml -- python3 examples/memory_client_correct.py --port 18080 --duration 8
    faultline run scenarios/memory-api-timeouts-breaker.yaml -- python3 examples/memory_client_correct.py --port 18082 --duration 22
"""
import argparse
import random
import sys
import time

import pybreaker
import requests


class MemoryAPI:
    """The memory API's client, built anew on every request cycle (as the incident's was).

    What it learns about the server is kept on the class, not on the instance: a new client
    does not ask again what an earlier one found out.
    """

    discovered_version = None  # "v1" or "v2" once known, for the rest of the process

    def __init__(self, session: requests.Session, base: str, timeout: float, version: str, say):
        self.session, self.base, self.timeout, self.say = session, base, timeout, say
        if version != "auto":
            MemoryAPI.discovered_version = version

    def _get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=(self.timeout, self.timeout))

    def list_users(self) -> list:
        version = MemoryAPI.discovered_version
        if version is None:
            response = self._get("/api/v2/users")
            if response.status_code == 404:
                # This deployment has no v2: remember it, and never ask again.
                MemoryAPI.discovered_version = version = "v1"
                self.say(f"error GET /api/v2/users: {response.status_code} {response.reason} (no v2 here: v1 from now on)")
            else:
                response.raise_for_status()  # a 5xx or a timeout leaves the question open
                MemoryAPI.discovered_version = "v2"
                users = response.json()["data"]
                self.say(f"ok GET /api/v2/users: {len(users)} users (v2 from now on)")
                return users
        response = self._get(f"/api/{version}/users")
        response.raise_for_status()
        users = response.json()
        users = users["data"] if version == "v2" else users
        self.say(f"ok GET /api/{version}/users: {len(users)} users")
        return users


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18080,
                        help="where the memory API (or faultline in front of it) listens (default 18080)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds to run; at least the scenario's timeline (default 20)")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between requests while the API answers (default 0.5)")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="connect and read timeout in seconds (default 2)")
    parser.add_argument("--fail-max", type=int, default=5,
                        help="failed calls in a row that open the breaker (default 5)")
    parser.add_argument("--cooldown", type=float, default=3.0,
                        help="seconds the breaker stays open before a probe (default 3)")
    parser.add_argument("--api-version", choices=["auto", "v1", "v2"], default="auto",
                        help="auto: ask v2 once, fall back to v1 for good on a 404 (default auto)")
    args = parser.parse_args()

    started = time.monotonic()

    def say(text: str) -> None:
        print(f"{time.monotonic() - started:.3f} {text}", flush=True)

    session = requests.Session()  # one pool of keep-alive connections for the whole process
    base = f"http://{args.host}:{args.port}"
    # throw_new_error_on_trip=False: the call that opens the breaker raises its own error,
    # so the log says what failed; later calls raise CircuitBreakerError until the cooldown.
    breaker = pybreaker.CircuitBreaker(fail_max=args.fail_max, reset_timeout=args.cooldown,
                                       throw_new_error_on_trip=False)
    first_delay, max_delay = 0.1, 2.0
    delay = first_delay
    last_users = None  # what the fallback serves

    while time.monotonic() - started < args.duration:
        api = MemoryAPI(session, base, args.timeout, args.api_version, say)  # a new client per cycle
        was_closed = breaker.current_state == pybreaker.STATE_CLOSED
        try:
            last_users = breaker.call(api.list_users)
            delay = first_delay
            time.sleep(args.interval)
        except pybreaker.CircuitBreakerError:
            # Open: answer from the fallback at once, and leave the API alone.
            served = "no users yet" if last_users is None else f"{len(last_users)} users"
            say(f"fallback {served} (breaker open)")
            time.sleep(args.interval)
        except (requests.RequestException, ValueError) as error:
            if breaker.current_state == pybreaker.STATE_OPEN:
                what = "breaker opened" if was_closed else "probe failed, breaker open again"
                say(f"error {type(error).__name__}: {error} ({what})")
                time.sleep(args.interval)
            else:
                wait = delay * random.uniform(1.0, 1.1)
                say(f"error {type(error).__name__}: {error} (next try in {wait:.1f}s)")
                time.sleep(wait)
                delay = min(delay * 2, max_delay)
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
