#!/usr/bin/env python3
"""The real HTTP/1.1 upstream of the HTTPProtocol*Tests: aiohttp's server (keep-alive, HEAD,
100-continue, WebSocket) on 127.0.0.1, a port the kernel picks. It prints `{"listening": PORT}`
once it accepts, then one JSON line per request it sees, before answering:
`{"seen": "GET", "path": "/api/v1/users", "query": "a=1", "peer": 51234, "version": "1.1",
"headers": {...}}`, so a test knows what reached the upstream and over how many connections
(distinct peer ports).

    GET  /api/v1/users, /api/v2/users   small JSON bodies (v2's shape differs)
    GET  /bytes?size=N[&chunked=1]      N deterministic bytes (Content-Length, or chunked in
                                        16 KB chunks); X-Body-Sha256 names their digest
    POST /upload                        reads the body; answers {"length": N, "sha256": HEX}
    GET  /status/CODE                   that status, X-Upstream: yes and a JSON body
    GET  /ws                            WebSocket echo (text and binary)
    GET  /garbage[?after=ok]            bytes that are not HTTP (after a whole 200 "ok"), then the close
    POST /v1/traces                     an OTLP/HTTP receiver: 200, an empty protobuf answer
"""
import argparse
import asyncio
import hashlib
import json
import random
import sys

from aiohttp import WSMsgType, web

BLOCK = 16 * 1024
_bodies = {}


def body_of(size):
    """N bytes, the same for every request of that size (seeded), and their sha256."""
    if size not in _bodies:
        data = random.Random(size).randbytes(size)
        _bodies[size] = (data, hashlib.sha256(data).hexdigest())
    return _bodies[size]


def out(**fields):
    print(json.dumps(fields), flush=True)


@web.middleware
async def record(request, handler):
    peer = request.transport.get_extra_info("peername") if request.transport else None
    out(seen=request.method, path=request.path, query=request.query_string, peer=peer[1] if peer else None,
        version=f"{request.version.major}.{request.version.minor}", headers=dict(request.headers))
    return await handler(request)


async def users_v1(request):
    return web.json_response([{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}])


async def users_v2(request):
    return web.json_response({"version": 2, "data": [{"id": 1, "name": "ada"}]})


async def payload(request):
    size = int(request.query.get("size", "1000"))
    data, digest = body_of(size)
    headers = {"X-Body-Sha256": digest, "Content-Type": "application/octet-stream"}
    if request.query.get("chunked") != "1":
        return web.Response(body=data, headers=headers)
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    if request.method != "HEAD":
        for start in range(0, size, BLOCK):
            await response.write(data[start:start + BLOCK])
    await response.write_eof()
    return response


async def upload(request):
    digest = hashlib.sha256()
    length = 0
    async for chunk in request.content.iter_chunked(1 << 16):
        digest.update(chunk)
        length += len(chunk)
    return web.json_response({"length": length, "sha256": digest.hexdigest()})


async def status(request):
    code = int(request.match_info["code"])
    return web.json_response({"status": code, "from": "upstream"}, status=code, headers={"X-Upstream": "yes"})


async def echo(request):
    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    async for message in socket:
        if message.type == WSMsgType.TEXT:
            await socket.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await socket.send_bytes(message.data)
    return socket


async def traces(request):
    await request.read()
    return web.Response(body=b"", content_type="application/x-protobuf")


async def garbage(request):
    if request.query.get("after") == "ok":  # a whole response first, then the garbage
        request.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    request.transport.write(b"\x00\x01 this is not HTTP\r\n\r\n")
    request.transport.close()
    raise web.HTTPInternalServerError()  # aiohttp cannot write it: the transport is closed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = web.Application(middlewares=[record], client_max_size=64 << 20)
    app.router.add_get("/api/v1/users", users_v1)
    app.router.add_get("/api/v2/users", users_v2)
    app.router.add_get("/bytes", payload)
    app.router.add_post("/upload", upload)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/ws", echo)
    app.router.add_get("/garbage", garbage)
    app.router.add_post("/v1/traces", traces)

    async def serve():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", args.port)
        await site.start()
        out(listening=site._server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()  # until SIGTERM

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
