#!/usr/bin/env python3
"""A Redis client that behaves well when Redis misbehaves. Copy its patterns into your service.

It plays a small service: every --interval it handles one request, which increments a
counter in Redis (INCR), until --duration seconds have passed. What makes it correct:

  * Short timeouts. Connecting and reading give up after --timeout (0.5 s). redis-py's
    default is to wait forever, which is how a service hangs on a dead connection.
  * Reconnects. One pooled connection; after a connection error or a timeout redis-py drops
    it and the next call opens a new one.
  * Retries with backoff. After a failed call the next waits 0.1 s, then 0.2 s, 0.4 s … up
    to 2 s (plus up to 10 % jitter), so an outage sees a trickle of retries, not a storm.
  * A circuit breaker (pybreaker). After --fail-max failed calls in a row it opens: calls
    then fail at once without touching the network. After --cooldown one call goes through
    as a probe; it closes the breaker if it succeeds and reopens it if not.
  * A fallback. While Redis cannot answer, requests are served from the last value seen.

One line per request, stamped with the seconds since the client started:

    3.204 ok count=17
    3.915 error TimeoutError: Timeout reading from socket (next try in 0.1s)
    6.208 error TimeoutError: Timeout reading from socket (breaker opened)
    6.409 fallback count=17 (breaker open)
   11.212 error TimeoutError: Timeout reading from socket (probe failed, breaker open again)

It exits 0 whatever happened: under `faultline run`, the scenario's expectations judge
the client from the network, not this script's exit status. For example:

    faultline run scenarios/redis-idle-cutoff.yaml -- python3 examples/redis_client_correct.py --port 16379 --duration 22
"""
import argparse
import random
import sys
import time

import pybreaker
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

KEY = "faultline:example:requests"


def make_client(host: str, port: int, timeout: float) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        socket_connect_timeout=timeout,  # connect() gives up after this long
        socket_timeout=timeout,          # and so does every read of a reply
        # redis-py retries 3 times by default, with no regard for the breaker; the loop
        # below is the only retry policy, so each failure reaches the breaker once.
        retry=Retry(NoBackoff(), 0),
        # No CLIENT SETINFO round trips when a connection opens: each request is then one
        # command on the wire, which is what the client's log and faultline's counts show.
        driver_info=None,
    )


def served(count) -> str:
    """What the fallback answers: the last count Redis gave, if it ever gave one."""
    return "no value yet" if count is None else f"count={count}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=16379,
                        help="where Redis (or faultline in front of it) listens (default 16379)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds to run; at least the scenario's timeline (default 20)")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="seconds between requests while Redis answers (default 0.2)")
    parser.add_argument("--timeout", type=float, default=0.5,
                        help="connect and read timeout in seconds (default 0.5)")
    parser.add_argument("--fail-max", type=int, default=5,
                        help="failed calls in a row that open the breaker (default 5)")
    parser.add_argument("--cooldown", type=float, default=1.0,
                        help="seconds the breaker stays open before a probe (default 1)")
    args = parser.parse_args()

    client = make_client(args.host, args.port, args.timeout)
    # throw_new_error_on_trip=False: the call that opens the breaker raises its own error,
    # so the log says what failed; later calls raise CircuitBreakerError until the cooldown.
    breaker = pybreaker.CircuitBreaker(fail_max=args.fail_max, reset_timeout=args.cooldown,
                                       throw_new_error_on_trip=False)
    started = time.monotonic()
    first_delay, max_delay = 0.1, 2.0
    delay = first_delay
    last_count = None  # what the fallback serves

    def say(text: str) -> None:
        print(f"{time.monotonic() - started:.3f} {text}", flush=True)

    while time.monotonic() - started < args.duration:
        was_closed = breaker.current_state == pybreaker.STATE_CLOSED
        try:
            last_count = breaker.call(client.incr, KEY)
            say(f"ok count={last_count}")
            delay = first_delay
            time.sleep(args.interval)
        except pybreaker.CircuitBreakerError:
            # Open: answer from the fallback at once, and leave Redis alone.
            say(f"fallback {served(last_count)} (breaker open)")
            time.sleep(args.interval)
        except redis.exceptions.RedisError as error:
            if breaker.current_state == pybreaker.STATE_OPEN:
                # This failure opened the breaker, or the probe after a cooldown failed.
                what = "breaker opened" if was_closed else "probe failed, breaker open again"
                say(f"error {type(error).__name__}: {error} ({what})")
                time.sleep(args.interval)
            else:
                wait = delay * random.uniform(1.0, 1.1)
                say(f"error {type(error).__name__}: {error} (next try in {wait:.1f}s)")
                time.sleep(wait)
                delay = min(delay * 2, max_delay)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
