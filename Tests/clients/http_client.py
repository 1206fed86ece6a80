#!/usr/bin/env python3
"""Real Python HTTP clients through `faultline proxy --protocol http`, for the HTTPProtocol*Tests.
Each mode prints one JSON line per request (or event) saying exactly what the application saw:
the status, headers, body (or its length and sha256), the seconds it took, or the exception's
class and text. The Swift tests decide what is right.

Modes (each takes --base http://127.0.0.1:PORT or https://localhost:PORT, --ca FILE to verify
TLS against, and one or more --path):
  requests     one requests.Session for every path, in order (keep-alive), --pause s apart;
               --retries N makes a urllib3 Retry on 429/503 that honours Retry-After
  httpx        one httpx.Client, in order
  httpx-async  one httpx.AsyncClient, in order
  aiohttp      one aiohttp.ClientSession, in order; --concurrency N: all at once over N connections
  websocket    websockets: connect to the first path, echo --messages texts (or binary messages of
               --size bytes), then wait up to --wait s for the server's close
  otlp         opentelemetry-exporter-otlp-proto-http: export one batch of --spans spans to the
               first path; prints the export result and what the exporter logged
  breaker      pybreaker (fail_max --fail-max, reset_timeout --reset) around requests.get with
               --timeout, a call every --interval s for --duration s
  storm        --workers threads, each asking again at once after any failure, for --duration s
Common: --method, --timeout (s), --header Name:value, --data-size N (a deterministic body),
--chunked (send the body chunked), --linger S (stay S seconds after the last request).
"""
import argparse
import asyncio
import hashlib
import json
import logging
import random
import sys
import threading
import time

BIG = 4096


def out(**fields):
    print(json.dumps(fields), flush=True)


def failure(error, started):
    return dict(error=type(error).__name__, message=str(error), seconds=round(time.monotonic() - started, 3))


def seen(status, reason, headers, body, started, **extra):
    fields = dict(status=status, reason=reason, headers={k.lower(): v for k, v in headers.items()},
                  length=len(body), sha256=hashlib.sha256(body).hexdigest(),
                  seconds=round(time.monotonic() - started, 3), **extra)
    if len(body) <= BIG:
        try:
            fields["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # binary: length and sha256 say it
    out(**fields)


def payload(args):
    if args.data_size is None:
        return None
    data = random.Random(args.data_size).randbytes(args.data_size)
    out(sent=len(data), sha256=hashlib.sha256(data).hexdigest())
    if not args.chunked:
        return data
    return (data[i:i + 65536] for i in range(0, len(data), 65536))  # a generator: sent chunked


def headers(args):
    return dict(h.split(":", 1) for h in args.header)


def verify(args):
    return args.ca or True


def run_requests(args):
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    if args.retries:
        retry = Retry(total=args.retries, status_forcelist=[429, 503], backoff_factor=0,
                      respect_retry_after_header=True, allowed_methods=None)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
    for index, path in enumerate(args.path):
        if index:
            time.sleep(args.pause)
        started = time.monotonic()
        try:
            response = session.request(args.method, args.base + path, headers=headers(args), data=payload(args),
                                       timeout=args.timeout, verify=verify(args))
            seen(response.status_code, response.reason, response.headers, response.content, started,
                 version=response.raw.version)
        except Exception as error:
            out(**failure(error, started))


def run_httpx(args):
    import httpx

    with httpx.Client(timeout=args.timeout, verify=verify(args)) as client:
        for path in args.path:
            started = time.monotonic()
            try:
                response = client.request(args.method, args.base + path, headers=headers(args), content=payload(args))
                seen(response.status_code, response.reason_phrase, response.headers, response.content, started,
                     version=response.http_version)
            except Exception as error:
                out(**failure(error, started))


async def httpx_async(args):
    import httpx

    async def chunks(body):
        for part in body:
            yield part

    async with httpx.AsyncClient(timeout=args.timeout, verify=verify(args)) as client:
        for path in args.path:
            started = time.monotonic()
            body = payload(args)
            try:
                content = chunks(body) if args.chunked and body is not None else body
                response = await client.request(args.method, args.base + path, headers=headers(args), content=content)
                seen(response.status_code, response.reason_phrase, response.headers, response.content, started,
                     version=response.http_version)
            except Exception as error:
                out(**failure(error, started))


async def run_aiohttp(args):
    import ssl

    import aiohttp

    context = ssl.create_default_context(cafile=args.ca) if args.ca else None
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    connector = aiohttp.TCPConnector(limit=args.concurrency)

    async def one(session, path):
        started = time.monotonic()
        try:
            async with session.request(args.method, args.base + path, headers=headers(args), data=payload(args),
                                       ssl=context) as response:
                body = await response.read()
                seen(response.status, response.reason, response.headers, body, started, path=path,
                     version=f"{response.version.major}.{response.version.minor}")
        except Exception as error:
            out(path=path, **failure(error, started))

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        if args.concurrency == 1:
            for path in args.path:
                await one(session, path)
        else:  # every path at once, over at most --concurrency connections
            await asyncio.gather(*(one(session, path) for path in args.path))


async def websocket(args):
    import ssl

    import websockets

    url = args.base.replace("http", "ws", 1) + args.path[0]
    context = ssl.create_default_context(cafile=args.ca) if args.ca else None
    started = time.monotonic()
    try:
        async with websockets.connect(url, ssl=context, additional_headers=headers(args), open_timeout=args.timeout,
                                      close_timeout=2, max_size=None) as socket:
            out(event="open", seconds=round(time.monotonic() - started, 3))
            for index in range(args.messages):
                if args.size:  # binary messages of --size bytes, their echoes compared
                    message = random.Random(index).randbytes(args.size)
                    await socket.send(message)
                    echo = await asyncio.wait_for(socket.recv(), args.timeout)
                    out(event="echo", length=len(echo), same=echo == message)
                    continue
                await socket.send(f"hello {index}")
                out(event="echo", text=await asyncio.wait_for(socket.recv(), args.timeout))
            try:
                message = await asyncio.wait_for(socket.recv(), args.wait)
                out(event="message", text=str(message))
            except asyncio.TimeoutError:
                out(event="still open", seconds=round(time.monotonic() - started, 3))
    except websockets.exceptions.ConnectionClosed as closed:
        frame = closed.rcvd
        out(event="closed", error=type(closed).__name__, code=frame.code if frame else None,
            reason=frame.reason if frame else None, message=str(closed), seconds=round(time.monotonic() - started, 3))
    except websockets.exceptions.InvalidStatus as refused:
        out(event="refused", error=type(refused).__name__, status=refused.response.status_code,
            body=refused.response.body.decode("utf-8", "replace"), message=str(refused),
            seconds=round(time.monotonic() - started, 3))
    except Exception as error:
        out(event="failed", **failure(error, started))


class Collected(logging.Handler):
    def emit(self, record):
        out(logged=record.levelname, logger=record.name, message=record.getMessage())


def otlp(args):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    logging.getLogger("opentelemetry").addHandler(Collected())
    logging.getLogger("opentelemetry").propagate = False
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("faultline-tests")
    for index in range(args.spans):
        with tracer.start_as_current_span(f"span-{index}"):
            pass
    exporter = OTLPSpanExporter(endpoint=args.base + args.path[0], timeout=args.timeout, certificate_file=args.ca)
    started = time.monotonic()
    result = exporter.export(memory.get_finished_spans())
    out(export=result.name, spans=args.spans, seconds=round(time.monotonic() - started, 3))
    exporter.shutdown()


def breaker(args):
    import pybreaker
    import requests

    guard = pybreaker.CircuitBreaker(fail_max=args.fail_max, reset_timeout=args.reset)
    session = requests.Session()
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            response = guard.call(session.get, args.base + args.path[0], timeout=args.timeout)
            out(call="ok", status=response.status_code, seconds=round(time.monotonic() - started, 3))
        except pybreaker.CircuitBreakerError as error:
            out(call="open", message=str(error))
        except Exception as error:
            out(call="failed", **failure(error, started))
        time.sleep(args.interval)


def storm(args):
    import requests

    end = time.monotonic() + args.duration
    counts = {"ok": 0, "failed": 0}
    lock = threading.Lock()

    def worker():
        session = requests.Session()
        while time.monotonic() < end:
            try:
                session.get(args.base + args.path[0], timeout=args.timeout)
                outcome = "ok"
            except Exception:
                session = requests.Session()  # ask again at once, on a new connection
                outcome = "failed"
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=worker) for _ in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out(**counts)


def number(text):
    """2 stays 2 (requests prints "read timeout=2" as the user wrote it), 0.5 is a float."""
    value = float(text)
    return int(value) if value.is_integer() else value


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["requests", "httpx", "httpx-async", "aiohttp", "websocket", "otlp", "breaker",
                                         "storm"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--path", action="append", required=True)
    parser.add_argument("--ca")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--timeout", type=number, default=10)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--data-size", type=int)
    parser.add_argument("--chunked", action="store_true")
    parser.add_argument("--retries", type=int, default=0)
    parser.add_argument("--messages", type=int, default=1)
    parser.add_argument("--size", type=int, default=0, help="websocket: binary messages of this many bytes")
    parser.add_argument("--wait", type=float, default=5)
    parser.add_argument("--spans", type=int, default=3)
    parser.add_argument("--fail-max", type=int, default=5)
    parser.add_argument("--reset", type=float, default=3)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--linger", type=float, default=0, help="seconds to stay alive after the last request")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0, help="requests mode: seconds between requests")
    args = parser.parse_args()
    modes = {"requests": run_requests, "httpx": run_httpx, "otlp": otlp, "breaker": breaker, "storm": storm}
    if args.mode in modes:
        modes[args.mode](args)
    else:
        asyncio.run({"httpx-async": httpx_async, "aiohttp": run_aiohttp, "websocket": websocket}[args.mode](args))
    time.sleep(args.linger)


if __name__ == "__main__":
    sys.exit(main())
