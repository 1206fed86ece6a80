"""faultline benchmark harness: upstreams, peers, measurements and the report (see bench/README.md)."""
