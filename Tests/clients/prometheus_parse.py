#!/usr/bin/env python3
"""Parses Prometheus text exposition (format 0.0.4) from stdin with prometheus_client's parser.

Prints one line per metric family, `NAME TYPE SAMPLES` (the parser drops a counter's `_total`
from its family name), and exits 1 with the parser's message on stderr when the text does not
parse. faultline's MetricsTests pipe `Metrics.render` through it; by hand:

    curl -s http://127.0.0.1:8474/metrics | python3 Tests/clients/prometheus_parse.py
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    text = sys.stdin.read()
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # the parser raises ValueError and others on bad input
        print(f"parse error: {error!r}", file=sys.stderr)
        return 1
    for family in families:
        print(family.name, family.type, len(family.samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
