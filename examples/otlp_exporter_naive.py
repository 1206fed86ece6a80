#!/usr/bin/env python3
"""A hand-written trace exporter that retries a failed export at once, forever.

It plays the same service as otlp_exporter_correct.py: a batch of spans every --interval (0.5 s),
POSTed as OTLP/HTTP JSON to `/v1/traces`, written by hand with requests instead of the SDK's
exporter. Its mistake is the retry loop: an export that fails (any status but 2xx, or no
answer) is sent again at once, and again, until it goes through. A status that will never change
(405 Method Not Allowed) turns tracing into a retry storm on the endpoint.

One line per export; an error already printed is counted instead, and the count printed once a
second (`error batch 9: HTTP 405 Method Not Allowed, retrying at once (repeated 812 times)`). It ends
at --duration and exits 0 whatever happened; under `faultline run`, the scenario's expectations
judge it:

    faultline run scenarios/tracing-405.yaml -- python3 examples/otlp_exporter_naive.py --port 18081 --duration 14
"""
import argparse
import os
import sys
import time

import requests


def otlp_json(batch: int, count: int) -> dict:
    """An ExportTraceServiceRequest in OTLP/JSON, as a hand-written exporter builds it."""
    now = time.time_ns()
    spans = [{
        "traceId": os.urandom(16).hex(),
        "spanId": os.urandom(8).hex(),
        "name": "GET /api/v1/users",
        "kind": 2,
        "startTimeUnixNano": str(now - 1_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [{"key": "app.batch", "value": {"intValue": str(batch)}}],
    } for _ in range(count)]
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "memory-service"}}]},
        "scopeSpans": [{"scope": {"name": "examples.otlp_exporter_naive"}, "spans": spans}],
    }]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081,
                        help="where the OTLP/HTTP endpoint (or faultline in front of it) listens (default 18081)")
    parser.add_argument("--duration", type=float, default=14.0,
                        help="seconds to run; at least the scenario's timeline (default 14)")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between batches (default 0.5)")
    parser.add_argument("--spans", type=int, default=5, help="spans per batch (default 5)")
    args = parser.parse_args()

    started = time.monotonic()
    url = f"http://{args.host}:{args.port}/v1/traces"
    session = requests.Session()

    repeated = {}  # error text -> times seen since it was last printed
    flushed = started

    def say(text: str) -> None:
        # An error already printed is counted instead, and the counts printed once a second.
        nonlocal flushed
        if text in repeated:
            repeated[text] += 1
        else:
            print(f"{time.monotonic() - started:.3f} {text}", flush=True)
            if text.startswith("error"):
                repeated[text] = 0
        if time.monotonic() - flushed >= 1:
            flush()

    def flush() -> None:
        nonlocal flushed
        for text, count in repeated.items():
            if count:
                print(f"{time.monotonic() - started:.3f} {text} (repeated {count} times)", flush=True)
        repeated.clear()
        flushed = time.monotonic()

    batch = 0
    while time.monotonic() - started < args.duration:
        batch += 1
        body = otlp_json(batch, args.spans)
        while time.monotonic() - started < args.duration:  # until it goes through
            try:
                response = session.post(url, json=body, timeout=10)
                if 200 <= response.status_code < 300:
                    say(f"ok batch {batch}: {args.spans} spans exported (HTTP {response.status_code})")
                    break
                say(f"error batch {batch}: HTTP {response.status_code} {response.reason}, retrying at once")
            except requests.RequestException as error:
                say(f"error batch {batch}: {type(error).__name__}: {error}, retrying at once")
        time.sleep(max(0.0, min(args.interval, args.duration - (time.monotonic() - started))))
    flush()
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
