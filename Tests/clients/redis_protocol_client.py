#!/usr/bin/env python3
"""Real redis-py clients against a password-protected Redis through `faultline proxy --protocol
redis`, for the RedisProtocol*Tests. Each mode prints JSON lines describing exactly what the
application saw (values, exception classes and their text); the Swift tests decide.

Modes (all take --port, --password; --tls --ca FILE talk TLS to the proxy, verifying it):
  auth      --attempts N: N fresh connections, each authenticating then PING, no retries;
            --backoff S sleeps S, 2S, 4S… after failures, --until-ok stops at the first PONG
  async     redis.asyncio with Retry(ExponentialBackoff(), --retries): SET then GET
  breaker   pybreaker around GET: --calls calls every --interval s; which reached the network
  pipeline  --count commands, pipeline(transaction=False): SET k_i / GET k_i alternating
  big       --size bytes SET then GET; sha256 of both (and of a direct read on --direct-port)
  pubsub    SUBSCRIBE through the proxy, PUBLISH from a second client, the message received
  monitor   MONITOR through the proxy, a SET from a second client, the line MONITOR showed
  multi     MULTI/EXEC (pipeline(transaction=True)): SET, INCR, GET
  blpop     BLPOP with 5 s timeout, LPUSH from a second client after --wait s
  call      one command (--command GET k …) with --timeout as socket timeout, timed

--resp 2 makes redis-py send AUTH and speak RESP2; without it redis-py 8 sends HELLO 3 AUTH
(its default protocol is RESP3).
"""
import argparse
import asyncio
import hashlib
import json
import sys
import threading
import time

import pybreaker
import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry


def out(**fields):
    print(json.dumps(fields), flush=True)


def failure(error):
    return {"error": type(error).__name__, "module": type(error).__module__, "message": str(error)}


def options(args, port=None, retries=0):
    kwargs = dict(host="127.0.0.1", port=port or args.port, password=args.password,
                  socket_timeout=args.timeout, socket_connect_timeout=args.timeout,
                  retry=Retry(NoBackoff(), retries))
    if args.tls:
        # The proxy's leaf names localhost and 127.0.0.1: verified as a careful client does.
        kwargs.update(ssl=True, ssl_ca_certs=args.ca, ssl_check_hostname=True)
    if args.resp:
        kwargs["protocol"] = args.resp  # else redis-py 8's default: RESP3, HELLO 3 AUTH default PASS
    return kwargs


def client(args, **extra):
    return redis.Redis(**{**options(args), **extra})


def direct(args):
    """A second client straight to redis-server (no proxy, no TLS)."""
    return redis.Redis(host="127.0.0.1", port=args.direct_port, password=args.password, socket_timeout=10)


def auth(args):
    delay = args.backoff
    for attempt in range(args.attempts):
        connection = client(args)
        try:
            connection.ping()
            out(attempt=attempt + 1, ok=True)
            if args.until_ok:
                connection.set("auth:done", "yes")
                return
        except redis.exceptions.RedisError as error:
            out(attempt=attempt + 1, **failure(error))
            if args.backoff:
                time.sleep(delay)
                delay *= 2
        finally:
            connection.close()


class CountingBackoff(ExponentialBackoff):
    """ExponentialBackoff that counts how often a Retry asked it for a wait (once per retry).
    Counted on the class: redis.asyncio gives each connection a copy of the client's Retry."""

    retries = 0

    def __init__(self):
        super().__init__(cap=0.5, base=0.05)

    def compute(self, failures):
        CountingBackoff.retries += 1
        return super().compute(failures)


async def async_mode(args):
    backoff = CountingBackoff()
    kwargs = options(args)
    # redis.asyncio needs its own Retry class: given the sync one it retries nothing.
    kwargs["retry"] = AsyncRetry(backoff, args.retries)
    connection = redis.asyncio.Redis(**kwargs)
    started = time.monotonic()
    try:
        await connection.set("async:key", "async-value")
        value = await connection.get("async:key")
        out(ok=True, value=value.decode(), retries=CountingBackoff.retries, seconds=time.monotonic() - started)
    except redis.exceptions.RedisError as error:
        out(ok=False, retries=CountingBackoff.retries, **failure(error))
    finally:
        await connection.aclose()


def breaker_mode(args):
    breaker = pybreaker.CircuitBreaker(fail_max=args.fail_max, reset_timeout=args.reset)
    connection = client(args)
    reached = []

    def get():
        reached.append(time.monotonic())
        return connection.get("breaker:key")

    outcomes = []
    last = None
    for _ in range(args.calls):
        try:
            breaker.call(get)
            outcomes.append("ok")
        except pybreaker.CircuitBreakerError:
            outcomes.append("open")
        except redis.exceptions.BusyLoadingError as error:
            outcomes.append("loading")
            last = str(error)
        time.sleep(args.interval)
    connection.close()
    out(outcomes=outcomes, reached=len(reached), state=breaker.current_state, message=last)


def pipeline(args):
    connection = client(args)
    pipe = connection.pipeline(transaction=False)
    for index in range(args.count):
        if index % 2 == 0:
            pipe.set(f"pipe:{index // 2}", f"value-{index // 2}")
        else:
            pipe.get(f"pipe:{index // 2}")
    results = pipe.execute(raise_on_error=False)
    shown = []
    for result in results:
        if isinstance(result, Exception):
            shown.append(f"!{type(result).__name__}: {result}")
        elif isinstance(result, bytes):
            shown.append(result.decode())
        else:
            shown.append(repr(result))
    connection.close()
    out(results=shown)


def big(args):
    value = hashlib.shake_256(b"faultline").digest(args.size)
    connection = client(args, socket_timeout=60)
    started = time.monotonic()
    stored = connection.set("big:value", value)
    got = connection.get("big:value")
    seconds = time.monotonic() - started
    fields = dict(set=stored, sent=hashlib.sha256(value).hexdigest(), length=len(got or b""),
                  got=hashlib.sha256(got or b"").hexdigest(), seconds=seconds)
    if args.direct_port:
        fields["direct"] = hashlib.sha256(direct(args).get("big:value") or b"").hexdigest()
    connection.close()
    out(**fields)


def pubsub(args):
    connection = client(args)
    subscriber = connection.pubsub()
    subscriber.subscribe("news")
    confirmation = subscriber.get_message(timeout=5)
    receivers = direct(args).publish("news", "hello through faultline")
    message = subscriber.get_message(timeout=5)
    out(confirmation=[str(confirmation["type"]), confirmation["channel"].decode(), confirmation["data"]],
        receivers=receivers, message=[message["type"], message["channel"].decode(), message["data"].decode()])
    subscriber.close()
    connection.close()


def monitor(args):
    connection = client(args)
    with connection.monitor() as watching:
        seen = threading.Event()

        def poke():
            while not seen.is_set():
                direct(args).set("monitored:key", "seen")
                time.sleep(0.1)

        threading.Thread(target=poke, daemon=True).start()
        for event in watching.listen():
            if "monitored:key" in event["command"]:
                seen.set()
                out(command=event["command"])
                break
    connection.close()


def multi(args):
    connection = client(args)
    with connection.pipeline(transaction=True) as pipe:
        pipe.set("multi:key", "1")
        pipe.incr("multi:key")
        pipe.get("multi:key")
        out(results=[repr(result) for result in pipe.execute()])
    connection.close()


def blpop(args):
    connection = client(args, socket_timeout=10)
    connection.delete("queue")

    def push():
        time.sleep(args.wait)
        direct(args).lpush("queue", "job-1")

    threading.Thread(target=push, daemon=True).start()
    started = time.monotonic()
    popped = connection.blpop(["queue"], timeout=5)
    out(popped=[part.decode() for part in popped] if popped else None, seconds=time.monotonic() - started)
    connection.close()


def call(args):
    connection = client(args)
    started = time.monotonic()
    try:
        value = connection.execute_command(*args.command)
        out(ok=True, value=value.decode() if isinstance(value, bytes) else repr(value), seconds=time.monotonic() - started)
    except redis.exceptions.RedisError as error:
        out(ok=False, seconds=time.monotonic() - started, **failure(error))
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["auth", "async", "breaker", "pipeline", "big", "pubsub", "monitor",
                                         "multi", "blpop", "call"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--direct-port", type=int)
    parser.add_argument("--password", required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca")
    parser.add_argument("--resp", type=int, choices=[2, 3])
    parser.add_argument("--timeout", type=float, default=10)
    parser.add_argument("--attempts", type=int, default=1)
    parser.add_argument("--backoff", type=float, default=0.0)
    parser.add_argument("--until-ok", action="store_true")
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--fail-max", type=int, default=3)
    parser.add_argument("--reset", type=float, default=1.0)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=16 << 20)
    parser.add_argument("--wait", type=float, default=1.0)
    parser.add_argument("--command", nargs="+")
    args = parser.parse_args()
    if args.mode == "async":
        asyncio.run(async_mode(args))
    else:
        {"auth": auth, "breaker": breaker_mode, "pipeline": pipeline, "big": big, "pubsub": pubsub,
         "monitor": monitor, "multi": multi, "blpop": blpop, "call": call}[args.mode](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
