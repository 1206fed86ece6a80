#!/usr/bin/env python3
"""A service whose managed Redis (rediss://) rejects its first AUTH attempts. Copy its patterns.

It plays a small service: every --interval it handles one request, which increments a
counter in Redis (INCR), until --duration seconds have passed. The service is up from its
first second whatever Redis does: until it has an authenticated connection it answers from
a fallback. What makes it correct:

  * Startup never waits on Redis. Connecting and reading give up after --timeout (0.5 s);
    while Redis cannot be used, requests are served from the fallback.
  * Authentication is retried with backoff: 0.5 s, 1 s, 2 s … up to 4 s (plus up to 10 %
    jitter), each attempt on a new connection, for as long as the service runs: a managed
    Redis that rejects AUTH for a while (a failover, a password rotation still propagating)
    is used as soon as it accepts.
  * TLS is verified against --ca (rediss:// with certificate and host name checks).

--give-up-after N plays the client of the incident: after N failed authentications it logs
the error and falls back for good ("Redis authentication failed (attempt 1..3)", then the
service runs degraded until someone restarts it).

One line per request, stamped with the seconds since the client started:

    0.004 error AuthenticationError: Authentication required. (attempt 1; next try in 0.5s)
    0.006 fallback (Redis not ready)
    1.537 authenticated (attempt 4)
    1.538 ok count=3

It exits 0 whatever happened: under `faultline run`, the scenario's expectations judge
the client from the network. For example (see scenarios/redis-auth-rejection.yaml):

    faultline certs --profile valid --host localhost --out certs
    faultline run scenarios/redis-auth-rejection.yaml -- python3 examples/redis_auth_client.py --ca certs/ca.pem --port 16381 --duration 12
"""
import argparse
import os
import random
import sys
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

KEY = "faultline:example:auth-requests"


def connect(args) -> redis.Redis:
    """A client on one connection that authenticates when it opens (AUTH user password)."""
    return redis.Redis(
        host=args.host,
        port=args.port,
        username=args.username,
        password=args.password,
        ssl=not args.plain,
        ssl_ca_certs=None if args.plain else args.ca,
        socket_connect_timeout=args.timeout,
        socket_timeout=args.timeout,
        # One attempt per call: the loop below is the retry policy, so each failed
        # authentication is one AUTH on the wire and one line in the log.
        retry=Retry(NoBackoff(), 0),
        driver_info=None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="localhost",
                        help="Redis's (or faultline's) host; the name its certificate is checked against (default localhost)")
    parser.add_argument("--port", type=int, default=16381, help="where it listens (default 16381)")
    parser.add_argument("--ca", default="certs/ca.pem", help="PEM file of the CA to verify the server against (default certs/ca.pem)")
    parser.add_argument("--plain", action="store_true", help="speak plain TCP instead of TLS (redis:// instead of rediss://)")
    parser.add_argument("--username", default="default")
    parser.add_argument("--password", default=os.environ.get("REDIS_PASSWORD", "faultline-example"),
                        help="default $REDIS_PASSWORD, else faultline-example (a Redis without a password accepts any)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds to run (default 10)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between requests (default 0.2)")
    parser.add_argument("--timeout", type=float, default=0.5, help="connect and read timeout in seconds (default 0.5)")
    parser.add_argument("--give-up-after", type=int, default=0, metavar="N",
                        help="the incident's client: after N failed authentications, fall back for good (default: never give up)")
    args = parser.parse_args()

    started = time.monotonic()
    client = None
    attempts = 0
    next_attempt = 0.0
    delay = 0.5
    gave_up = False
    last_count = None

    def say(text: str) -> None:
        print(f"{time.monotonic() - started:.3f} {text}", flush=True)

    while time.monotonic() - started < args.duration:
        now = time.monotonic() - started
        if client is None and not gave_up and now >= next_attempt:
            attempts += 1
            candidate = connect(args)
            try:
                candidate.ping()  # opens the connection: TLS, then AUTH
                client = candidate
                say(f"authenticated (attempt {attempts})")
            except redis.exceptions.RedisError as error:
                candidate.close()
                if args.give_up_after and attempts >= args.give_up_after:
                    gave_up = True
                    say(f"error {type(error).__name__}: {error} (attempt {attempts}; giving up, serving the fallback)")
                else:
                    wait = delay * random.uniform(1.0, 1.1)
                    say(f"error {type(error).__name__}: {error} (attempt {attempts}; next try in {wait:.1f}s)")
                    next_attempt = now + wait
                    delay = min(delay * 2, 4.0)
        if client is None:
            say(f"fallback (Redis not ready{', gave up' if gave_up else ''})")
        else:
            try:
                last_count = client.incr(KEY)
                say(f"ok count={last_count}")
            except redis.exceptions.RedisError as error:
                # The connection broke: authenticate again on a new one, after a backoff.
                say(f"error {type(error).__name__}: {error} (reconnecting)")
                client.close()
                client = None
                next_attempt = now + delay
        time.sleep(args.interval)
    if client is not None:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
