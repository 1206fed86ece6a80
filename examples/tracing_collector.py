#!/usr/bin/env python3
"""A stand-in tracing collector: accepts OTLP/HTTP span exports (POST /v1/traces) in plain HTTP
and answers 200, as an OpenTelemetry collector's HTTP receiver does. Under
scenarios/tracing-ca-chain.yaml faultline sits in front of it and serves the TLS.

    python3 examples/tracing_collector.py --port 4318
"""
import argparse
import http.server


class Collector(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        status = 200 if self.path == "/v1/traces" else 404
        body = b"{}" if status == 200 else b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer((args.host, args.port), Collector)
    print(f"collector listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
