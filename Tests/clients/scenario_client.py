#!/usr/bin/env python3
"""More Redis clients under test for the scenario-runner tests, beside redis_client.py (whose
`ping` they reuse, so every style talks to Redis through the same real redis-py code).

  --style backoff    exponential backoff from --base (default 0.2 s), doubling up to 2 s.
                     redis_client.py's backoff starts at 50 ms; a 100 ms scheduling stall on a
                     loaded machine could then make a gap look shorter than the one before it.
  --style deadline   a retry budget: each wait is half of what is left of --budget, so the
                     gaps shrink (1 s, 500 ms, 250 ms…) and attempts pile up at the deadline.
                     A real anti-pattern, and what `backoff: true` exists to catch.
  --style giveup     one attempt; on failure it logs and never tries again (exit 0: a service
                     that "starts degraded" and never recovers).
  --style sequence   --count PINGs one after another, each on a fresh connection, whatever
                     happens; prints `outcomes: ` and one letter per PING (o ok, x failed).

Each PING opens a fresh connection (see redis_client.ping) with --timeout for connect and read.
Exit status 0: the scenario's expectations, not this script, give the verdict.
"""
import argparse
import os
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from redis_client import ping  # noqa: E402  (after the path is set)

FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def attempt(port: int, timeout: float) -> bool:
    try:
        ping(port, timeout)
        print(f"{time.monotonic():.3f} ok", flush=True)
        return True
    except FAILURES as error:
        print(f"{time.monotonic():.3f} error {type(error).__name__}: {error}", flush=True)
        return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--style", choices=["backoff", "deadline", "giveup", "sequence"], required=True)
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=0.2, help="pause after a success")
    parser.add_argument("--base", type=float, default=0.2, help="first backoff delay")
    parser.add_argument("--budget", type=float, default=2.0, help="deadline style: retry budget")
    parser.add_argument("--count", type=int, default=20, help="sequence style: PINGs")
    args = parser.parse_args()

    if args.style == "giveup":
        attempt(args.port, args.timeout)
        return 0
    if args.style == "sequence":
        letters = "".join("o" if attempt(args.port, args.timeout) else "x" for _ in range(args.count))
        print(f"outcomes: {letters}", flush=True)
        return 0

    started = time.monotonic()
    deadline = started + args.duration
    delay = args.base
    while time.monotonic() < deadline:
        if attempt(args.port, args.timeout):
            delay = args.base
            time.sleep(args.interval)
        elif args.style == "backoff":
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
        else:  # deadline: half the budget left, never below 10 ms
            left = started + args.budget - time.monotonic()
            time.sleep(max(left / 2, 0.01))
    return 0


if __name__ == "__main__":
    sys.exit(main())
