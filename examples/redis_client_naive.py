#!/usr/bin/env python3
"""A Redis client written the way many are, and what the scenarios in scenarios/ catch.

It plays the same small service as redis_client_correct.py (one INCR per request every
--interval, until --duration has passed), with the usual mistakes:

  * No timeouts (socket_timeout=None, as redis-py defaulted to for years and many services
    still configure): a stalled Redis or a connection the network dropped silently hangs
    the service.
  * No circuit breaker and no backoff of its own. A failed call is retried at once, in a
    tight loop (beneath it, only redis-py's default quick retries inside each call): while
    Redis is down, that is a retry storm.
  * No fallback. Until Redis answers again, every request fails.

Repeated identical errors are printed once with a count, so a storm does not flood the
terminal (`error ConnectionError: … (repeated 2481 times)`). A request still hanging when
--duration is over is reported (`the request sent at 3.401 has not returned (no timeout)`)
and the process ends, so that a run under faultline ends too. It exits 0 whatever happened;
under `faultline run`, the scenario's expectations judge it. For example:

    faultline run scenarios/redis-idle-cutoff.yaml -- python3 examples/redis_client_naive.py --port 16379 --duration 22
"""
import argparse
import sys
import threading
import time

import redis

KEY = "faultline:example:requests"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=16379,
                        help="where Redis (or faultline in front of it) listens (default 16379)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds to run; at least the scenario's timeline (default 20)")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="seconds between requests while Redis answers (default 0.2)")
    args = parser.parse_args()

    # The mistake: no socket timeouts at all. (Recent redis-py defaults to 5 s; an explicit
    # None is what old defaults and many configurations still give.)
    client = redis.Redis(host=args.host, port=args.port, socket_timeout=None, socket_connect_timeout=None)
    started = time.monotonic()
    waiting_since = None  # when the request in flight was sent

    def say(text: str) -> None:
        print(f"{time.monotonic() - started:.3f} {text}", flush=True)

    def serve() -> None:
        nonlocal waiting_since
        last_error, repeats = None, 0

        def flush_repeats() -> None:
            if repeats > 1:
                say(f"{last_error} (repeated {repeats} times)")

        while time.monotonic() - started < args.duration:
            waiting_since = time.monotonic()
            try:
                count = client.incr(KEY)
                waiting_since = None
                flush_repeats()
                last_error, repeats = None, 0
                say(f"ok count={count}")
                time.sleep(args.interval)
            except redis.exceptions.RedisError as error:
                waiting_since = None
                text = f"error {type(error).__name__}: {error}"
                if text != last_error:
                    flush_repeats()
                    say(text)
                    last_error, repeats = text, 0
                repeats += 1
                # The mistake: straight back to Redis, no pause.
        flush_repeats()

    # Not part of the lesson: requests run in a thread so that the process still ends at
    # --duration when one hangs. Without timeouts it would wait forever, and `faultline run`,
    # which waits for its command, with it.
    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    worker.join(max(0.0, started + args.duration + 0.5 - time.monotonic()))
    if worker.is_alive() and waiting_since is not None:
        say(f"the request sent at {waiting_since - started:.3f} has not returned (no timeout);"
            " stopping at --duration")
    return 0


if __name__ == "__main__":
    sys.exit(main())
