#!/usr/bin/env python3
"""A stand-in memory API: the upstream the HTTP scenarios put faultline in front of.

One process, one port (default 127.0.0.1:8080), HTTP/1.1 with keep-alive, WebSocket on the same
port (aiohttp serves both):

    GET  /api/v1/users             JSON list of users
    GET  /api/v2/users             the same in v2's shape (it works here: under
                                   scenarios/memory-api-v2-404.yaml faultline answers 404)
    GET  /api/preferences/active   the active preferences (the REST state a WebSocket client pulls)
    POST /v1/traces                an OTLP/HTTP trace receiver: protobuf (application/x-protobuf)
                                   or JSON (application/json); answers 200 with an empty
                                   ExportTraceServiceResponse in the request's content type
    GET  /ws                       WebSocket: a JSON message every 0.5 s until the client leaves

Each request is logged as one line (`GET /api/v1/users 200`); --quiet turns that off.

    python3 examples/memory_api.py --port 8080
"""
import argparse
import asyncio
import itertools
import json
import sys
import time

from aiohttp import WSMsgType, web

USERS = [
    {"id": 1, "name": "ada", "memories": 12},
    {"id": 2, "name": "grace", "memories": 7},
    {"id": 3, "name": "linus", "memories": 3},
]
PREFERENCES = {"user": 1, "theme": "dark", "language": "en", "sync": True, "updated": "2024-05-01T12:00:00Z"}

try:  # the OTLP protobuf schema comes with opentelemetry-exporter-otlp-proto-http
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
except ImportError:  # still a receiver without it: the body is accepted unread
    ExportTraceServiceRequest = None


def count_spans_protobuf(body: bytes):
    if ExportTraceServiceRequest is None:
        return None
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return sum(len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans)


def count_spans_json(body: bytes) -> int:
    document = json.loads(body or b"{}")
    return sum(len(scope.get("spans", [])) for resource in document.get("resourceSpans", [])
               for scope in resource.get("scopeSpans", []))


async def v1_users(request: web.Request) -> web.Response:
    return web.json_response(USERS)


async def v2_users(request: web.Request) -> web.Response:
    return web.json_response({"version": 2, "data": USERS, "next": None})


async def preferences(request: web.Request) -> web.Response:
    return web.json_response(PREFERENCES)


async def traces(request: web.Request) -> web.Response:
    body = await request.read()
    if request.headers.get("Content-Encoding", "identity") not in ("identity", ""):
        return web.json_response({"error": "compression is not supported here"}, status=415)
    kind = request.content_type
    try:
        if kind == "application/x-protobuf":
            spans = count_spans_protobuf(body)
            answer = web.Response(body=b"", content_type="application/x-protobuf")
        elif kind == "application/json":
            spans = count_spans_json(body)
            answer = web.Response(body=b"{}", content_type="application/json")
        else:
            return web.json_response({"error": f"unsupported content type {kind}"}, status=415)
    except Exception as error:  # a malformed export: OTLP says 400
        return web.json_response({"error": f"malformed {kind}: {error}"}, status=400)
    request["note"] = f"{spans} spans" if spans is not None else f"{len(body)} bytes"
    return answer


async def websocket(request: web.Request) -> web.StreamResponse:
    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    request.app["sockets"].add(socket)
    started = time.monotonic()

    async def push() -> None:
        for seq in itertools.count(1):
            await socket.send_json({"type": "memory.updated", "seq": seq, "user": 1,
                                    "uptime": round(time.monotonic() - started, 3)})
            await asyncio.sleep(0.5)

    pusher = asyncio.create_task(push())
    try:
        async for message in socket:  # anything the client sends is read and ignored
            if message.type == WSMsgType.ERROR:
                break
    finally:
        pusher.cancel()
        request.app["sockets"].discard(socket)
    return socket


@web.middleware
async def access_log(request: web.Request, handler):
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        if request.app["log"]:
            note = request.get("note")
            print(f"{request.method} {request.path} {status}{' ' + note if note else ''}", flush=True)


async def close_sockets(app: web.Application) -> None:
    for socket in list(app["sockets"]):
        await socket.close(code=1001, message=b"server shutting down")


def make_app(log: bool) -> web.Application:
    app = web.Application(middlewares=[access_log])
    app["log"] = log
    app["sockets"] = set()
    app.on_shutdown.append(close_sockets)
    app.router.add_get("/api/v1/users", v1_users)
    app.router.add_get("/api/v2/users", v2_users)
    app.router.add_get("/api/preferences/active", preferences)
    app.router.add_post("/v1/traces", traces)
    app.router.add_get("/ws", websocket)
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args()
    print(f"memory api listening on {args.host}:{args.port}", flush=True)
    # run_app stops on SIGINT and SIGTERM alike; open WebSockets get a close frame (1001) first.
    web.run_app(make_app(not args.quiet), host=args.host, port=args.port, print=None,
                access_log=None, shutdown_timeout=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
