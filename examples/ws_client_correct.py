#!/usr/bin/env python3
"""A WebSocket client that reconnects calmly and does not re-pull its REST state. Copy its patterns.

It plays a front end of the memory API: it pulls the user's active preferences once over REST
(`GET /api/preferences/active`), then follows the live stream on the WebSocket `/ws` (the
`websockets` library), until --duration seconds have passed. What makes it correct:

  * REST state once. The preferences are pulled when the client starts; after a reconnect
    the client goes on from the stream (it knows the last sequence number it saw) instead of
    pulling the REST state again. In the incident every reconnect re-pulled it, with a token
    that had gone stale meanwhile, and got 403 on every one.
  * Backoff between reconnect attempts: 0.5 s, 1 s, 2 s, then 4 s (plus up to 10 % jitter),
    whatever ended the connection (a rejected upgrade such as 403, a close frame such as 1011,
    a refused connect). The backoff starts over only once a connection has stayed up for
    --stable seconds (5): a socket that opens and is closed again 2 s later is no recovery.
  * Timeouts on the REST call and on the WebSocket's opening handshake.

One line per request or event, stamped with the seconds since the client started:

    0.011 ok GET /api/preferences/active: theme=dark
    0.016 ok connected to /ws (attempt 1)
    0.518 ok message seq=1
    5.020 error connection closed: 1011 (internal error) (next try in 0.5s)
    5.530 error upgrade rejected: HTTP 403 (next try in 1.0s)

It exits 0 whatever happened: under `faultline run`, the scenario's expectations judge the
client from the network. For example:

    faultline run scenarios/websocket-403-reconnect.yaml -- python3 examples/ws_client_correct.py --port 18083 --duration 21
"""
import argparse
import json
import random
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
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="timeout of the REST call and of the WebSocket's opening handshake (default 2)")
    parser.add_argument("--first-delay", type=float, default=0.5,
                        help="first wait before reconnecting, doubled on each failure (default 0.5)")
    parser.add_argument("--max-delay", type=float, default=4.0, help="longest wait between attempts (default 4)")
    parser.add_argument("--stable", type=float, default=5.0,
                        help="seconds a connection must stay up before the backoff starts over (default 5)")
    args = parser.parse_args()

    started = time.monotonic()

    def say(text: str) -> None:
        print(f"{time.monotonic() - started:.3f} {text}", flush=True)

    def left() -> float:
        return args.duration - (time.monotonic() - started)

    base = f"{args.host}:{args.port}"
    session = requests.Session()
    # The REST state, pulled once. If that first pull fails the client still streams, with defaults.
    preferences = {"theme": "light"}
    try:
        response = session.get(f"http://{base}/api/preferences/active", timeout=args.timeout)
        response.raise_for_status()
        preferences = response.json()
        say(f"ok GET /api/preferences/active: theme={preferences.get('theme')}")
    except (requests.RequestException, ValueError) as error:
        say(f"error GET /api/preferences/active: {type(error).__name__}: {error} (going on with defaults)")

    delay = args.first_delay
    attempt = 0
    last_seq = 0  # where the stream was: a reconnect goes on from here, not from a new REST pull
    while left() > 0:
        attempt += 1
        opened = None
        try:
            with connect(f"ws://{base}/ws", open_timeout=args.timeout, close_timeout=1) as socket:
                opened = time.monotonic()
                say(f"ok connected to /ws (attempt {attempt}, after seq={last_seq})")
                while left() > 0:
                    try:
                        message = socket.recv(timeout=left())
                    except TimeoutError:
                        break  # --duration is over
                    last_seq = json.loads(message).get("seq", last_seq)
                    say(f"ok message seq={last_seq}")
            if left() <= 0:
                break
            what = "connection closed by the server"
        except InvalidStatus as error:
            what = f"upgrade rejected: HTTP {error.response.status_code}"
        except ConnectionClosedOK as error:
            what = f"connection closed: {error.rcvd.code if error.rcvd else 'no close frame'}"
        except ConnectionClosedError as error:
            what = f"connection closed: {error.rcvd.code} ({error.rcvd.reason or 'no reason'})" if error.rcvd \
                else "connection lost without a close frame"
        except (OSError, TimeoutError, InvalidHandshake) as error:
            what = f"{type(error).__name__}: {error}"
        if opened is not None and time.monotonic() - opened >= args.stable:
            delay = args.first_delay  # that connection was a recovery: start the backoff over
        wait = min(delay * random.uniform(1.0, 1.1), max(left(), 0))
        say(f"error {what} (next try in {wait:.1f}s)")
        time.sleep(wait)
        delay = min(delay * 2, args.max_delay)
    session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
