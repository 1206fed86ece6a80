#!/usr/bin/env python3
"""Reads faultline's `GET /events` stream with a real SSE client (httpx + httpx-sse), as a dashboard would.

    sse_client.py --url http://127.0.0.1:8474 [--kind K]... [--proxy P]... [--count N] [--seconds T] [--token T]

Prints JSON lines, flushed one by one:
  {"connected": STATUS, "contentType": "…"}            once the answer's head arrived (plus "body" when not 200)
  {"id": "7", "event": "faultFired", "data": {…}, "keys": [...]}   one per event: `data` parsed, `keys` in the
                                                        order the server wrote them
  {"end": "count" | "seconds" | "closed" | "error", …}  why it stopped
Stops after N events (--count, 0: no limit) or T seconds (--seconds), whichever comes first. Exits 0 when the
stream opened (200, text/event-stream), 1 otherwise (the status and body are printed first).
"""
import argparse
import json
import os
import sys
import threading
import time

import httpx
from httpx_sse import connect_sse

_print_lock = threading.Lock()


def emit(value: dict) -> None:
    with _print_lock:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()


def read(args, params, done: threading.Event, outcome: dict) -> None:
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    count = 0
    try:
        # No read timeout: the main thread ends the process at the deadline.
        with httpx.Client(timeout=httpx.Timeout(5.0, read=None), headers=headers) as client:
            with connect_sse(client, "GET", args.url.rstrip("/") + "/events", params=params) as source:
                response = source.response
                first = {"connected": response.status_code, "contentType": response.headers.get("content-type", "")}
                if response.status_code != 200:
                    first["body"] = response.read().decode("utf-8", "replace")
                    emit(first)
                    outcome["code"] = 1
                    outcome["end"] = {"end": "error", "reason": f"status {response.status_code}"}
                    return
                emit(first)
                for event in source.iter_sse():
                    data = json.loads(event.data, object_pairs_hook=lambda pairs: pairs)
                    emit({"id": event.id, "event": event.event, "data": dict(data), "keys": [k for k, _ in data]})
                    count += 1
                    if args.count and count >= args.count:
                        outcome["end"] = {"end": "count", "events": count}
                        return
                outcome["end"] = {"end": "closed", "events": count}
    except Exception as error:  # a refused connect, a broken stream: say so, exit 1
        outcome["code"] = 1
        outcome["end"] = {"end": "error", "reason": repr(error), "events": count}
    finally:
        done.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the API, http://HOST:PORT")
    parser.add_argument("--kind", action="append", default=[], help="?kind= filter (repeatable)")
    parser.add_argument("--proxy", action="append", default=[], help="?proxy= filter (repeatable)")
    parser.add_argument("--count", type=int, default=0, help="stop after this many events (0: no limit)")
    parser.add_argument("--seconds", type=float, default=10.0, help="stop after this long")
    parser.add_argument("--token", help="send Authorization: Bearer TOKEN")
    args = parser.parse_args()
    params = [("kind", kind) for kind in args.kind] + [("proxy", proxy) for proxy in args.proxy]

    done = threading.Event()
    outcome = {"code": 0, "end": {"end": "seconds"}}
    threading.Thread(target=read, args=(args, params, done, outcome), daemon=True).start()
    finished = done.wait(timeout=args.seconds)
    with _print_lock:
        end = dict(outcome["end"]) if finished else {"end": "seconds"}
        sys.stdout.write(json.dumps(end) + "\n")
        sys.stdout.flush()
    # The reader may still block in a read: leave without waiting for it.
    os._exit(outcome["code"] if finished else 0)


if __name__ == "__main__":
    sys.exit(main())
