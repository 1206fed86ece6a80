#!/usr/bin/env python3
"""A WebSocket client written the way the incident's was: every reconnect re-pulls the REST state, at once.

It plays the same front end as ws_client_correct.py (REST preferences, then the live stream on
`/ws`), with the incident's mistakes:

  * REST state on every (re)connect. Before each WebSocket connection it pulls
    `GET /api/preferences/active` again, with whatever token it holds: once the token has gone
    stale, every reconnect adds a 403 to the API's logs.
  * No backoff. When the socket closes or the upgrade is rejected, it starts again at once: a
    reconnect storm while the server turns it away.

One line per request or event (an error already printed is counted instead, and the count
printed once a second). It
ends at --duration and exits 0 whatever happened; under `faultline run`, the scenario's
expectations judge it:

    faultline run scenarios/websocket-403-reconnect.yaml -- python3 examples/ws_client_naive.py --port 18083 --duration 21
"""
import argparse
import json
import sys
import time

import requests
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18083,
                        help="where the memory API (or faultline in front of it) listens (default 18083)")
    parser.add_argument("--duration", type=float, default=21.0,
                        help="seconds to run; at least the scenario's timeline (default 21)")
    args = parser.parse_args()

    started = time.monotonic()

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

    def left() -> float:
        return args.duration - (time.monotonic() - started)

    base = f"{args.host}:{args.port}"
    while left() > 0:
        # The mistake: the REST state again on every (re)connect.
        try:
            response = requests.get(f"http://{base}/api/preferences/active", timeout=10)
            response.raise_for_status()
            say(f"ok GET /api/preferences/active: theme={response.json().get('theme')}")
        except (requests.RequestException, ValueError) as error:
            say(f"error GET /api/preferences/active: {error}")
        try:
            with connect(f"ws://{base}/ws", open_timeout=10) as socket:
                say("ok connected to /ws")
                while left() > 0:
                    try:
                        message = socket.recv(timeout=left())
                    except TimeoutError:
                        break
                    say(f"ok message seq={json.loads(message).get('seq')}")
        except InvalidStatus as error:
            say(f"error upgrade rejected: HTTP {error.response.status_code}, reconnecting at once")
        except ConnectionClosedOK:
            say("error connection closed, reconnecting at once")
        except ConnectionClosedError as error:
            code = error.rcvd.code if error.rcvd else "no close frame"
            say(f"error connection closed: {code}, reconnecting at once")
        except (OSError, TimeoutError, InvalidHandshake) as error:
            say(f"error {type(error).__name__}: {error}, reconnecting at once")
    flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
