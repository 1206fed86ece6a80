#!/usr/bin/env python3
"""A service's trace exporter: every --interval seconds it POSTs a batch of spans over HTTPS to
the collector, verifying the server's certificate against --ca (the trust bundle written by
`faultline certs`). When the export fails it logs the reason and drops the batch: tracing must
never take the service down, and it must never be "fixed" by turning verification off.

    python3 examples/tracing_client.py --ca certs/ca.pem --port 14318 --duration 16

--insecure plays the tempting fix from the incident (ssl.CERT_NONE): exports then succeed even
when the chain is broken, and client_rejects_certificate fails the run.
"""
import argparse
import http.client
import json
import ssl
import time


def export(args, context, batch):
    body = json.dumps({"resourceSpans": [{"batch": batch, "spans": 3}]}).encode()
    connection = http.client.HTTPSConnection(args.host, args.port, timeout=args.timeout, context=context)
    try:
        connection.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="localhost", help="the collector's name (checked against its certificate)")
    parser.add_argument("--port", type=int, default=14318)
    parser.add_argument("--ca", required=True, help="trust bundle: the ca.pem written by faultline certs")
    parser.add_argument("--insecure", action="store_true", help="turn verification off (the wrong fix)")
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=16.0)
    args = parser.parse_args()

    context = ssl.create_default_context(cafile=args.ca)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    end = time.monotonic() + args.duration
    batch = 0
    while time.monotonic() < end:
        batch += 1
        try:
            status = export(args, context, batch)
            print(f"exported batch {batch}: HTTP {status}", flush=True)
        except ssl.SSLCertVerificationError as error:
            print(f"export failed, batch {batch} dropped: {type(error).__name__}: {error}", flush=True)
        except (OSError, http.client.HTTPException) as error:
            print(f"export failed, batch {batch} dropped: {type(error).__name__}: {error}", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
