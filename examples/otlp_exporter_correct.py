#!/usr/bin/env python3
"""A service's trace export done right: the OpenTelemetry SDK and its OTLP/HTTP exporter.

It plays a small service that records a span for every request it handles (one every
--span-interval, 0.1 s) and exports them with the OpenTelemetry SDK's BatchSpanProcessor and the
real OTLPSpanExporter (opentelemetry-exporter-otlp-proto-http): protobuf over HTTP to
`POST /v1/traces`, one batch every --interval (0.5 s). What makes it correct is what the SDK
does, configured with care:

  * It fails closed. An export answered with a status the OTLP spec does not call retryable
    (405, 400, 404 …) fails at once with a clear error; the batch is dropped and the service
    goes on. Tracing never takes the service down, and a broken endpoint costs one request per
    batch, not a retry storm.
  * Retryable statuses (429, 502, 503, 504) and connection errors are retried with exponential
    backoff within --timeout; after that, the batch is dropped too.
  * One keep-alive session; a bounded queue (spans are dropped, not hoarded, if the endpoint
    stays down).

One line per export (the exporter's own log line goes to stderr), stamped with the seconds since
the client started:

    3.512 ok batch 7: 5 spans exported (HTTP 200 OK)
    4.013 error batch 8: 5 spans dropped: HTTP 405 Method Not Allowed

It exits 0 whatever happened: under `faultline run`, the scenario's expectations judge the
client from the network. For example:

    faultline run scenarios/tracing-405.yaml -- python3 examples/otlp_exporter_correct.py --port 18081 --duration 14
"""
import argparse
import logging
import sys
import threading
import time

import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class ReportingExporter(SpanExporter):
    """Wraps the OTLP exporter to print one line per export, with the HTTP status it got."""

    def __init__(self, exporter: OTLPSpanExporter, statuses: list, say):
        self.exporter, self.statuses, self.say = exporter, statuses, say
        self.batches = 0

    def export(self, spans) -> SpanExportResult:
        self.batches += 1
        self.statuses.clear()
        result = self.exporter.export(spans)
        seen = ", ".join(self.statuses) or "no HTTP response (the exporter's log says why)"
        if result is SpanExportResult.SUCCESS:
            self.say(f"ok batch {self.batches}: {len(spans)} spans exported ({seen})")
        else:
            self.say(f"error batch {self.batches}: {len(spans)} spans dropped: {seen}")
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081,
                        help="where the OTLP/HTTP endpoint (or faultline in front of it) listens (default 18081)")
    parser.add_argument("--duration", type=float, default=14.0,
                        help="seconds to run; at least the scenario's timeline (default 14)")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between exports: BatchSpanProcessor's schedule delay (default 0.5)")
    parser.add_argument("--span-interval", type=float, default=0.1,
                        help="seconds between the spans the service records (default 0.1)")
    parser.add_argument("--timeout", type=float, default=2.0,
                        help="how long one export may take, retries included (default 2)")
    args = parser.parse_args()

    started = time.monotonic()
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            print(f"{time.monotonic() - started:.3f} {text}", flush=True)

    # The SDK logs why an export failed ("Failed to export spans batch code: 405, reason: Method
    # Not Allowed"): keep it, on stderr, stamped with the same clock.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(since).3f %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda record: setattr(record, "since", time.monotonic() - started) or True)
    logging.basicConfig(level=logging.WARNING, handlers=[handler])

    statuses: list = []
    session = requests.Session()  # the exporter's keep-alive connection, with a hook to see statuses
    session.hooks["response"].append(lambda response, *a, **k: statuses.append(f"HTTP {response.status_code} {response.reason}"))
    exporter = OTLPSpanExporter(endpoint=f"http://{args.host}:{args.port}/v1/traces",
                                timeout=args.timeout, session=session)
    provider = TracerProvider(resource=Resource.create({"service.name": "memory-service"}))
    provider.add_span_processor(BatchSpanProcessor(ReportingExporter(exporter, statuses, say),
                                                   max_queue_size=2048, max_export_batch_size=512,
                                                   schedule_delay_millis=args.interval * 1000,
                                                   export_timeout_millis=args.timeout * 1000))
    tracer = provider.get_tracer("examples.otlp_exporter_correct")

    handled = 0
    while time.monotonic() - started < args.duration:
        handled += 1
        with tracer.start_as_current_span("GET /api/v1/users") as span:
            span.set_attribute("http.request.method", "GET")
            span.set_attribute("app.request.number", handled)
        time.sleep(args.span_interval)
    provider.shutdown()  # exports what is left, once
    return 0


if __name__ == "__main__":
    sys.exit(main())
