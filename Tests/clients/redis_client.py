#!/usr/bin/env python3
"""A Redis client under test, in the styles a scenario judges.

  --style backoff   retries with exponential backoff (a correct client)
  --style storm     retries at once, forever (the retry storm a scenario must catch)
  --style breaker   pybreaker opens after --fail-max failures, half-opens after --cooldown

Each iteration sends PING on a fresh connection (a pool would hide reconnects), with
--timeout as both connect and read timeout, until --duration seconds have passed. It prints
one line per outcome and exits 0: the scenario's expectations, not this script, give the verdict.
"""
import argparse
import sys
import time

import pybreaker
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def ping(port: int, timeout: float) -> None:
    # redis-py retries 3 times by default; the styles below must be the only retry policy.
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                         socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
    try:
        client.ping()
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--style", choices=["backoff", "storm", "breaker"], required=True)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=0.2, help="pause after a success")
    parser.add_argument("--fail-max", type=int, default=5)
    parser.add_argument("--cooldown", type=float, default=5.0)
    args = parser.parse_args()

    breaker = pybreaker.CircuitBreaker(fail_max=args.fail_max, reset_timeout=args.cooldown)
    deadline = time.monotonic() + args.duration
    delay = 0.05
    while time.monotonic() < deadline:
        try:
            if args.style == "breaker":
                breaker.call(ping, args.port, args.timeout)
            else:
                ping(args.port, args.timeout)
            print(f"{time.monotonic():.3f} ok", flush=True)
            delay = 0.05
            time.sleep(args.interval)
        except pybreaker.CircuitBreakerError:
            time.sleep(0.05)  # open: fail fast without touching the network
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            print(f"{time.monotonic():.3f} error {type(error).__name__}: {error}", flush=True)
            if args.style == "backoff":
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            elif args.style == "storm":
                time.sleep(0.005)
    return 0


if __name__ == "__main__":
    sys.exit(main())
