#!/usr/bin/env python3
"""Drives a Toxiproxy-compatible control API with the unchanged PyPI extension chaostoolkit-toxiproxy
(0.3.1, module `chaostoxi`) the way the Chaos Toolkit calls it: every action and probe is an
experiment activity ({"type": "action"|"probe", "provider": {"type": "python", "module", "func",
"arguments"}}) validated and run by chaostoolkit-lib's own runner (chaoslib.activity.run_activity,
which passes `configuration` = {"toxiproxy_host": HOST, "toxiproxy_port": PORT} loaded by
chaoslib.configuration.load_configuration), and a last step runs a whole experiment (steady-state
hypothesis, method, rollbacks) with chaoslib.experiment.run_experiment, as `chaos run` does.
Between the steps it checks through the proxy what each call did to the data path.

Usage:
  chaostoolkit_toxiproxy_trial.py --api HOST:PORT --listen-port P --upstream HOST:PORT
The script runs a TCP echo server on --upstream and an upper-casing echo server on the upstream
port + 1 (for modify_proxy's upstream change), both in threads; the proxy listens on 127.0.0.1:P.
It prints one line per step, `ok: ...` or `FAIL: ...` with what it measured, and exits 1 when any
step failed (the later steps still run).

Passed against the real Toxiproxy 2.12.0 with:
  pip install --break-system-packages -r Tests/clients/requirements.txt
  /work/shared/peers/toxiproxy-server -host 127.0.0.1 -port 24230 &   # stopped afterwards by its PID
  python3 Tests/clients/chaostoolkit_toxiproxy_trial.py --api 127.0.0.1:24230 --listen-port 24231 --upstream 127.0.0.1:24233

What the extension sends (read from its source and captured on the wire), each with plain requests.*:
  POST /proxies {"name","listen","upstream","enabled"} and reads the reply's "listen" port (must be
  digits); GET /proxies/N (proxy_exist reads "name", get_proxy_attribute reads any key);
  POST /proxies/N {"enabled": bool} | {"upstream": ...} | {"listen": ...} (partial; reads "listen");
  POST /proxies/N/toxics {"name","type","stream":"downstream","toxicity":1.0,"attributes"} (reads
  "name"); DELETE /proxies/N/toxics/T; POST /reset (empty body); DELETE /proxies/N. No PATCH.
"""
import argparse
import errno
import logging
import os
import socket
import sys
import threading
import time

import logzero
from chaoslib.activity import ensure_activity_is_valid, run_activity
from chaoslib.configuration import load_configuration
from chaoslib.experiment import run_experiment

LATENCY_MS = 300
SLACK_MS = 700     # a latency round trip must be under LATENCY_MS + SLACK_MS
CLEAN_MS = 100     # a round trip without toxics must be under this
PAYLOAD = b"faultline-trial\n"

failures = 0
passes = 0


def ok(msg):
    global passes
    passes += 1
    print("ok: " + msg, flush=True)


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg, flush=True)


def step(name, fn):
    """Runs one step; an exception is that step's failure and the trial goes on."""
    try:
        fn()
    except AssertionError as e:
        fail("%s: %s" % (name, e))
    except Exception as e:  # noqa: BLE001 - a library's exception is a finding
        fail("%s: %s: %s" % (name, type(e).__name__, e))


def split_hostport(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def start_echo(host, port, transform=lambda b: b):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(64)

    def serve(conn):
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        return
                    conn.sendall(transform(data))
            except OSError:
                return

    def accept_loop():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return srv


def exchange(port, timeout=5.0):
    """Connects to 127.0.0.1:port, sends PAYLOAD, reads as many bytes back; returns
    (milliseconds from sending to the last byte, the bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.monotonic()
        s.sendall(PAYLOAD)
        got = b""
        while len(got) < len(PAYLOAD):
            chunk = s.recv(65536)
            if not chunk:
                raise AssertionError("connection closed after %d of %d echoed bytes" % (len(got), len(PAYLOAD)))
            got += chunk
        return (time.monotonic() - start) * 1000.0, got


def round_trip_ms(port):
    """Also an experiment probe (module __main__): the echo round trip in ms through the proxy."""
    ms, got = exchange(int(port))
    if got != PAYLOAD:
        raise AssertionError("echo mismatch: %r" % got)
    return ms


def connect_error(port):
    """None when a connect to 127.0.0.1:port succeeds, else the errno it failed with."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3.0)
    try:
        s.connect(("127.0.0.1", port))
        return None
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return e.errno
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True, help="HOST:PORT of the Toxiproxy-compatible API")
    ap.add_argument("--listen-port", type=int, required=True, help="proxy listen port P")
    ap.add_argument("--upstream", required=True, help="HOST:PORT where this script runs its echo server (PORT+1 too)")
    args = ap.parse_args()
    logzero.loglevel(logging.WARNING)   # the extension logs every request at DEBUG

    api_host, api_port = split_hostport(args.api)
    up_host, up_port = split_hostport(args.upstream)
    P = args.listen_port
    listen = "127.0.0.1:%d" % P
    upstream = "%s:%d" % (up_host, up_port)
    upstream2 = "%s:%d" % (up_host, up_port + 1)
    name = "ctk_trial"

    echo = start_echo(up_host, up_port)
    upper = start_echo(up_host, up_port + 1, transform=lambda b: b.upper())
    ok("echo upstream on %s (direct round trip %.1f ms), upper-casing echo on %s"
       % (upstream, round_trip_ms(up_port), upstream2))

    # As an experiment's "configuration" block, loaded the way chaoslib loads it.
    configuration = load_configuration({"toxiproxy_host": api_host, "toxiproxy_port": api_port})

    def activity(kind, module, func, **arguments):
        act = {"type": kind, "name": func,
               "provider": {"type": "python", "module": module, "func": func, "arguments": arguments}}
        ensure_activity_is_valid(act)
        return run_activity(act, configuration, {})

    def action(module, func, **arguments):
        return activity("action", "chaostoxi." + module + ".actions", func, **arguments)

    def probe(func, **arguments):
        return activity("probe", "chaostoxi.proxy.probes", func, **arguments)

    def attr(attribute):
        return probe("get_proxy_attribute", proxy_name=name, attribute=attribute)

    def s_clean():
        if probe("proxy_exist", proxy_name=name):
            action("proxy", "delete_proxy", proxy_name=name)
        assert probe("proxy_exist", proxy_name=name) is False, "proxy_exist still true after delete"
        ok("proxy_exist(%s) is False before the start" % name)
    step("clean start", s_clean)

    def s_create():
        os.environ.pop(name + "_PORT", None)
        r = action("proxy", "create_proxy", proxy_name=name, upstream_host=up_host, upstream_port=up_port,
                   listen_host="127.0.0.1", listen_port=P)
        assert r is True, "create_proxy returned %r" % r
        assert os.environ.get(name + "_PORT") == str(P), \
            "create_proxy exported %s_PORT=%r, expected %r" % (name, os.environ.get(name + "_PORT"), str(P))
        ok("create_proxy(listen 127.0.0.1:%d, upstream %s) -> True, exported %s_PORT=%s"
           % (P, upstream, name, os.environ[name + "_PORT"]))
    step("create_proxy", s_create)

    def s_probes():
        assert probe("proxy_exist", proxy_name=name) is True, "proxy_exist false"
        got = {k: attr(k) for k in ("name", "listen", "upstream", "enabled", "toxics")}
        want = {"name": name, "listen": listen, "upstream": upstream, "enabled": True, "toxics": []}
        assert got == want, "get_proxy_attribute gave %r, expected %r" % (got, want)
        ok("proxy_exist True; get_proxy_attribute: %s" % ", ".join("%s=%r" % kv for kv in got.items()))
    step("probes", s_probes)

    def s_baseline():
        ms = round_trip_ms(P)
        assert ms < CLEAN_MS, "round trip %.1f ms without toxics (limit %d)" % (ms, CLEAN_MS)
        ok("round trip through the proxy without toxics: %.1f ms (< %d)" % (ms, CLEAN_MS))
    step("baseline", s_baseline)

    def s_latency():
        r = action("toxic", "create_latency_toxic", for_proxy=name, toxic_name="lat", latency=LATENCY_MS)
        assert r is True, "create_latency_toxic returned %r" % r
        toxics = attr("toxics")
        assert [(t["name"], t["type"], t["stream"], t["attributes"].get("latency")) for t in toxics] == \
            [("lat", "latency", "downstream", LATENCY_MS)], "toxics %r" % toxics
        ms = round_trip_ms(P)
        assert LATENCY_MS <= ms < LATENCY_MS + SLACK_MS, \
            "round trip %.1f ms, expected [%d, %d)" % (ms, LATENCY_MS, LATENCY_MS + SLACK_MS)
        ok("create_latency_toxic(lat, %d ms) -> True; round trip %.1f ms (in [%d, %d))"
           % (LATENCY_MS, ms, LATENCY_MS, LATENCY_MS + SLACK_MS))
    step("latency toxic", s_latency)

    def s_disable():
        r = action("proxy", "disable_proxy", proxy_name=name)
        assert r is True, "disable_proxy returned %r" % r
        err = connect_error(P)
        assert err == errno.ECONNREFUSED, "connect after disable_proxy: %r, expected ECONNREFUSED" % err
        assert attr("enabled") is False, "enabled attribute %r" % attr("enabled")
        ok("disable_proxy -> True; connect refused (ECONNREFUSED); enabled=False")
    step("disable_proxy", s_disable)

    def s_enable():
        r = action("proxy", "enable_proxy", proxy_name=name)
        assert r is True, "enable_proxy returned %r" % r
        ms = round_trip_ms(P)
        assert attr("enabled") is True, "enabled attribute %r" % attr("enabled")
        assert attr("listen") == listen, "listen %r" % attr("listen")
        assert ms >= LATENCY_MS, "round trip %.1f ms after enable: the toxic was lost" % ms
        ok("enable_proxy -> True; connect works, round trip %.1f ms (toxic kept); enabled=True" % ms)
    step("enable_proxy", s_enable)

    def s_modify():
        r = action("proxy", "modify_proxy", proxy_name=name, upstream_address=upstream2)
        assert r is True, "modify_proxy returned %r" % r
        assert attr("upstream") == upstream2, "upstream %r" % attr("upstream")
        _, got = exchange(P)
        assert got == PAYLOAD.upper(), "after the upstream change the reply is %r" % got
        r = action("proxy", "modify_proxy", proxy_name=name, upstream_address=upstream)
        assert r is True, "modify_proxy back returned %r" % r
        _, back = exchange(P)
        assert back == PAYLOAD, "after changing back the reply is %r" % back
        ok("modify_proxy(upstream_address=%s) -> True, new connections reach it (%r); and back" % (upstream2, got))
    step("modify_proxy", s_modify)

    def s_delete_toxic():
        r = action("toxic", "delete_toxic", for_proxy=name, toxic_name="lat")
        assert r is True, "delete_toxic returned %r" % r
        assert attr("toxics") == [], "toxics %r" % attr("toxics")
        ms = round_trip_ms(P)
        assert ms < CLEAN_MS, "round trip %.1f ms after delete_toxic (limit %d)" % (ms, CLEAN_MS)
        r = action("toxic", "delete_toxic", for_proxy=name, toxic_name="lat")
        assert r is False, "deleting it again returned %r" % r
        ok("delete_toxic -> True; toxics=[]; round trip %.1f ms (< %d); deleting again -> False" % (ms, CLEAN_MS))
    step("delete_toxic", s_delete_toxic)

    def s_other_toxics():
        made = [
            ("bw", "create_bandwith_degradation_toxic", {"rate": 1000}, "bandwidth", {"rate": 1000}),
            ("sc", "create_slow_connection_close_toxic", {"delay": 10}, "slow_close", {"delay": 10}),
            ("to", "create_timeout_toxic", {"timeout": 5000}, "timeout", {"timeout": 5000}),
            ("sl", "create_slicer_toxic", {"average_size": 64, "size_variation": 8, "delay": 10}, "slicer",
             {"average_size": 64, "size_variation": 8, "delay": 10}),
            ("li", "create_limiter_toxic", {"bytes_limit": 4096}, "limit_data", {"bytes": 4096}),
        ]
        for toxic_name, func, kwargs, _, _ in made:
            r = action("toxic", func, for_proxy=name, toxic_name=toxic_name, **kwargs)
            assert r is True, "%s returned %r" % (func, r)
        r = action("toxic", "create_toxic", for_proxy=name, toxic_name="up", toxic_type="latency",
                   stream="upstream", toxicity=0.5, attributes={"latency": 5, "jitter": 1})
        assert r is True, "create_toxic returned %r" % r
        toxics = {t["name"]: t for t in attr("toxics")}
        for toxic_name, _, _, kind, attributes in made:
            t = toxics.get(toxic_name)
            assert t is not None, "%s missing from %r" % (toxic_name, sorted(toxics))
            assert t["type"] == kind and t["stream"] == "downstream", "%s is %r" % (toxic_name, t)
            for k, v in attributes.items():
                assert t["attributes"].get(k) == v, "%s attributes %r, expected %s=%r" % (toxic_name, t["attributes"], k, v)
        up = toxics.get("up")
        assert up is not None and up["stream"] == "upstream" and abs(up["toxicity"] - 0.5) < 1e-6 \
            and up["attributes"].get("jitter") == 1, "up is %r" % up
        ok("bandwidth, slow_close, timeout, slicer, limit_data (downstream) and an upstream latency at "
           "toxicity 0.5 created (%d toxics listed)" % len(toxics))
    step("other toxics", s_other_toxics)

    def s_reset():
        action("proxy", "disable_proxy", proxy_name=name)
        r = action("proxy", "reset")
        assert r is True, "reset returned %r" % r
        assert probe("proxy_exist", proxy_name=name) is True, "reset removed the proxy"
        assert attr("toxics") == [], "toxics after reset %r" % attr("toxics")
        assert attr("enabled") is True, "enabled after reset %r" % attr("enabled")
        ms = round_trip_ms(P)
        assert ms < CLEAN_MS, "round trip %.1f ms after reset (limit %d)" % (ms, CLEAN_MS)
        ok("reset -> True; disabled proxy re-enabled, toxics=[], round trip %.1f ms" % ms)
    step("reset", s_reset)

    def s_experiment():
        experiment = {
            "version": "1.0.0",
            "title": "faultline trial: latency through a Toxiproxy-compatible API",
            "description": "chaostoolkit-toxiproxy as an experiment uses it",
            "configuration": {"toxiproxy_host": api_host, "toxiproxy_port": api_port},
            "steady-state-hypothesis": {
                "title": "the proxy exists",
                "probes": [{"type": "probe", "name": "proxy-exists", "tolerance": True,
                            "provider": {"type": "python", "module": "chaostoxi.proxy.probes",
                                         "func": "proxy_exist", "arguments": {"proxy_name": name}}}],
            },
            "method": [
                {"type": "action", "name": "add-latency",
                 "provider": {"type": "python", "module": "chaostoxi.toxic.actions", "func": "create_latency_toxic",
                              "arguments": {"for_proxy": name, "toxic_name": "exp_lat", "latency": LATENCY_MS}}},
                {"type": "probe", "name": "round-trip",
                 "provider": {"type": "python", "module": "__main__", "func": "round_trip_ms",
                              "arguments": {"port": P}}},
            ],
            "rollbacks": [
                {"type": "action", "name": "remove-latency",
                 "provider": {"type": "python", "module": "chaostoxi.toxic.actions", "func": "delete_toxic",
                              "arguments": {"for_proxy": name, "toxic_name": "exp_lat"}}},
            ],
        }
        journal = run_experiment(experiment, settings={})
        assert journal["status"] == "completed", "journal status %r" % journal["status"]
        assert journal["deviated"] is False, "deviated"
        outputs = {r["activity"]["name"]: (r["status"], r["output"]) for r in journal["run"]}
        assert outputs.get("add-latency") == ("succeeded", True), "add-latency %r" % (outputs.get("add-latency"),)
        status, ms = outputs.get("round-trip", (None, None))
        assert status == "succeeded" and LATENCY_MS <= ms < LATENCY_MS + SLACK_MS, "round-trip %r" % ((status, ms),)
        rb = [(r["status"], r["output"]) for r in journal["rollbacks"]]
        assert rb == [("succeeded", True)], "rollbacks %r" % rb
        assert attr("toxics") == [], "toxics after the rollback %r" % attr("toxics")
        ok("experiment run by chaoslib: status=completed deviated=False, round trip %.1f ms during the method, "
           "rollback removed the toxic" % ms)
    step("experiment", s_experiment)

    def s_delete():
        action("proxy", "delete_proxy", proxy_name=name)   # returns None by design; failures only logged
        assert probe("proxy_exist", proxy_name=name) is False, "proxy_exist true after delete_proxy"
        assert attr("name") is None, "get_proxy_attribute of a deleted proxy is not None"
        err = connect_error(P)
        assert err == errno.ECONNREFUSED, "connect after delete_proxy: %r" % err
        ok("delete_proxy: proxy_exist False, get_proxy_attribute None (404), connect refused")
    step("delete_proxy", s_delete)

    echo.close()
    upper.close()
    print("summary: %d ok, %d failed" % (passes, failures), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
