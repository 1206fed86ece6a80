#!/usr/bin/env python3
"""A pooled Redis client under test: one redis.Redis whose pool keeps its connection, the way
services use Redis, judged by scenarios/redis-idle-cutoff.yaml.

  --style correct   short connect/read timeouts; on an error the pool reconnects, with a
                    backoff from 50 ms doubling to 1 s (what the incident's fix does)
  --style hang      no timeouts at all (the incident: it sits on a dead connection forever)
  --style storm     a 100 ms timeout and an immediate retry after every error

It sends PING every --interval seconds until --duration has passed, prints one line per
outcome and exits 0: the scenario's expectations, not this script, give the verdict. The
hanging style cannot end by itself, so an alarm ends it at --duration.
"""
import argparse
import os
import signal
import sys
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def client(port: int, style: str) -> redis.Redis:
    timeout = {"correct": 0.5, "hang": None, "storm": 0.1}[style]
    # redis-py retries by default; each style's own loop below must be its only retry policy.
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout,
                       socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--style", choices=["correct", "hang", "storm"], required=True)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.2, help="pause after a success")
    args = parser.parse_args()

    def give_up(signo, frame):
        print(f"{time.monotonic():.3f} still waiting after {args.duration}s: hung", flush=True)
        os._exit(0)

    signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, args.duration)
    pool = client(args.port, args.style)
    deadline = time.monotonic() + args.duration
    delay = 0.05
    while time.monotonic() < deadline:
        try:
            pool.ping()
            print(f"{time.monotonic():.3f} ok", flush=True)
            delay = 0.05
            time.sleep(args.interval)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            print(f"{time.monotonic():.3f} error {type(error).__name__}: {error}", flush=True)
            if args.style == "correct":
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
