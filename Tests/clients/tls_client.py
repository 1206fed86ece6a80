#!/usr/bin/env python3
"""A TLS client as applications write it with Python's ssl module, for the TLS tests.

Each connection: TCP connect, TLS handshake (verifying against --cafile with the name
--server-hostname, or not at all with --insecure), send --send, read until that many bytes
came back (an echo upstream), or with --http send a GET and read the whole response.
It prints one JSON object per connection:

  {"stage": "done", "received": "...", "version": "TLSv1.3", "handshake_seconds": 0.01}
  {"stage": "read", "error": "EOF", ...}   (the server closed before echoing everything)
  {"stage": "handshake" | "write" | "read" | "connect", "error": "SSLCertVerificationError",
   "message": str(error), "verify_code": 20, "verify_message": "..."}

With --count N it makes N connections, --parallel of them at once (all released together by
a barrier), and prints a final summary {"summary": {"done": N, "failed": 0, ...}}; with
--each instead, one line per connection, made one after another. Exit 0 whatever happened:
the test reads the JSON and decides.
"""
import argparse
import json
import socket
import ssl
import threading
import time
import warnings

VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
            "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def make_context(args):
    if args.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=args.cafile)
    if args.max_version:
        context.maximum_version = VERSIONS[args.max_version]
    if args.legacy:
        # What a client still talking to old servers configures: TLS 1.0 allowed, SHA-1 too.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def describe(stage, error):
    result = {"stage": stage, "error": type(error).__name__, "message": str(error)}
    if isinstance(error, ssl.SSLCertVerificationError):
        result["verify_code"] = error.verify_code
        result["verify_message"] = error.verify_message
    return result


def one(args, context):
    stage = "connect"
    try:
        with socket.create_connection((args.host, args.port), timeout=args.timeout) as raw:
            stage = "handshake"
            started = time.monotonic()
            with context.wrap_socket(raw, server_hostname=args.server_hostname) as tls:
                handshake = time.monotonic() - started
                stage = "write"
                payload = args.send.encode()
                if args.http:
                    payload = (f"GET {args.http} HTTP/1.1\r\nHost: {args.server_hostname}\r\n"
                               "Connection: close\r\n\r\n").encode()
                tls.sendall(payload)
                stage = "read"
                received = b""
                while args.http or len(received) < len(payload):
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                if not args.http and len(received) < len(payload):
                    return {"stage": "read", "error": "EOF", "received": received.decode("utf-8", "replace"),
                            "message": f"the server closed after {len(received)} of {len(payload)} bytes",
                            "handshake_seconds": handshake}
                return {"stage": "done", "received": received.decode("utf-8", "replace"),
                        "version": tls.version(), "handshake_seconds": handshake}
    except Exception as error:  # every failure is an observation, reported as data
        return describe(stage, error)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-hostname", default="localhost")
    parser.add_argument("--cafile")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--max-version", choices=sorted(VERSIONS))
    parser.add_argument("--legacy", action="store_true", help="also accept TLS 1.0/1.1 and SHA-1 (security level 0)")
    parser.add_argument("--send", default="hello through TLS\n")
    parser.add_argument("--http", metavar="PATH", help="send GET PATH and read the response to its end")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--each", action="store_true", help="with --count: one line per connection, in order, first")
    args = parser.parse_args()

    context = make_context(args)
    if args.count == 1:
        print(json.dumps(one(args, context)), flush=True)
        return 0
    if args.each:
        for _ in range(args.count):
            print(json.dumps(one(args, context)), flush=True)
        return 0

    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.parallel)
    per_thread = [args.count // args.parallel + (1 if i < args.count % args.parallel else 0)
                  for i in range(args.parallel)]

    def worker(count):
        barrier.wait()
        for _ in range(count):
            result = one(args, context)
            with lock:
                results.append(result)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [r for r in results if r["stage"] == "done" and r["received"] == args.send]
    failures = [r for r in results if r not in done]
    print(json.dumps({"summary": {"done": len(done), "failed": len(failures),
                                  "seconds": time.monotonic() - started,
                                  "min_handshake_seconds": min((r["handshake_seconds"] for r in done), default=0),
                                  "max_handshake_seconds": max((r["handshake_seconds"] for r in done), default=0),
                                  "first_failures": failures[:5]}}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
