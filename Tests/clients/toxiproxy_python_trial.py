#!/usr/bin/env python3
"""Drives a Toxiproxy-compatible control API with the unchanged PyPI client toxiproxy-python
(0.1.1, module `toxiproxy`), and checks through the proxy what each call did to the data path.

Usage:
  toxiproxy_python_trial.py --api HOST:PORT --listen-port P --upstream HOST:PORT
The script starts its own TCP echo server on --upstream (in a thread), makes proxies listening on
127.0.0.1:P and 127.0.0.1:P+1, and prints one line per step, `ok: ...` or `FAIL: ...` with what it
measured; it exits 1 when any step failed (the later steps still run, so one run shows everything).

Passed against the real Toxiproxy 2.12.0 with:
  pip install --break-system-packages -r Tests/clients/requirements.txt
  /work/shared/peers/toxiproxy-server -host 127.0.0.1 -port 24220 &   # stopped afterwards by its PID
  python3 Tests/clients/toxiproxy_python_trial.py --api 127.0.0.1:24220 --listen-port 24221 --upstream 127.0.0.1:24223

What the client sends (read from its source and captured on the wire):
  GET /version (after a bare TCP connect that sends nothing: Toxiproxy.running()), GET /proxies
  (also before every create), POST /proxies {"upstream","name","listen"}, POST /proxies/N
  {"enabled": bool} (enable/disable, a partial update), GET /proxies/N/toxics,
  POST /proxies/N/toxics {"name","type","stream","toxicity","attributes"}, DELETE /proxies/N/toxics/T,
  POST /reset (empty body), DELETE /proxies/N. populate() is client-side (no /populate).
  Statuses 409/404/400 become ProxyExists/NotFound/InvalidToxic exceptions.
"""
import argparse
import errno
import json
import socket
import sys
import threading
import time

from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

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
    except Exception as e:  # noqa: BLE001 - a client library's exception is a finding
        fail("%s: %s: %s" % (name, type(e).__name__, e))


def split_hostport(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def start_echo(host, port):
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
                    conn.sendall(data)
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


def round_trip_ms(port, timeout=5.0):
    """Connects to 127.0.0.1:port, sends PAYLOAD, waits for all of it back; the milliseconds
    from sending to the last byte received."""
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
        elapsed = (time.monotonic() - start) * 1000.0
    if got != PAYLOAD:
        raise AssertionError("echo mismatch: %r" % got)
    return elapsed


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
    ap.add_argument("--listen-port", type=int, required=True, help="proxy listen port P (P+1 is used too)")
    ap.add_argument("--upstream", required=True, help="HOST:PORT where this script runs its echo server")
    args = ap.parse_args()

    api_host, api_port = split_hostport(args.api)
    up_host, up_port = split_hostport(args.upstream)
    listen = "127.0.0.1:%d" % args.listen_port
    listen2 = "127.0.0.1:%d" % (args.listen_port + 1)
    upstream = "%s:%d" % (up_host, up_port)
    name = "tp_python_trial"
    name2 = "tp_python_trial_populated"

    echo = start_echo(up_host, up_port)
    direct = round_trip_ms(up_port)
    ok("echo upstream on %s (direct round trip %.1f ms)" % (upstream, direct))

    server = Toxiproxy()
    server.update_api_consumer(api_host, api_port)
    state = {}

    def s_running():
        assert server.running() is True, "running() is %r" % server.running()
        raw = server.version()
        assert raw, "version() returned %r" % raw
        doc = json.loads(raw)
        assert isinstance(doc, dict) and isinstance(doc.get("version"), str), "GET /version body %r" % raw
        ok("running() True; version() %r" % raw.decode().strip())
    step("running/version", s_running)

    def s_clean():
        gone = []
        for n in (name, name2):
            p = server.get_proxy(n)
            if p is not None:
                server.destroy(p)
                gone.append(n)
        ok("no leftover proxies (removed %s)" % (gone or "none"))
    step("clean start", s_clean)

    def s_create():
        p = server.create(upstream=upstream, name=name, listen=listen)
        state["proxy"] = p
        assert p.name == name, "name %r" % p.name
        assert p.listen == listen, "listen %r, expected %r" % (p.listen, listen)
        assert p.upstream == upstream, "upstream %r" % p.upstream
        assert p.enabled is True, "enabled %r" % p.enabled
        ok("create(): name=%s listen=%s upstream=%s enabled=%s" % (p.name, p.listen, p.upstream, p.enabled))
    step("create", s_create)

    def s_create_again():
        try:
            server.create(upstream=upstream, name=name, listen=listen)
        except ProxyExists:
            ok("create() of an existing name raises ProxyExists")
            return
        raise AssertionError("second create() did not raise ProxyExists")
    step("create again", s_create_again)

    def s_baseline():
        ms = round_trip_ms(args.listen_port)
        assert ms < CLEAN_MS, "round trip %.1f ms without toxics (limit %d)" % (ms, CLEAN_MS)
        ok("round trip through the proxy without toxics: %.1f ms (< %d)" % (ms, CLEAN_MS))
    step("baseline round trip", s_baseline)

    def s_add_toxic():
        p = state["proxy"]
        p.add_toxic(type="latency", attributes={"latency": LATENCY_MS})
        t = p.get_toxic("latency_downstream")
        assert t is not None, "toxics() has no latency_downstream: %r" % list(p.toxics())
        assert t.type == "latency" and t.stream == "downstream", "type %r stream %r" % (t.type, t.stream)
        assert t.attributes.get("latency") == LATENCY_MS, "attributes %r" % t.attributes
        assert float(t.toxicity) == 1.0, "toxicity %r" % t.toxicity
        ok("add_toxic(latency %d ms): toxic %s type=%s stream=%s toxicity=%s attributes=%s"
           % (LATENCY_MS, t.name, t.type, t.stream, t.toxicity, json.dumps(t.attributes, sort_keys=True)))
    step("add latency toxic", s_add_toxic)

    def s_latency():
        ms = round_trip_ms(args.listen_port)
        assert LATENCY_MS <= ms < LATENCY_MS + SLACK_MS, \
            "round trip %.1f ms, expected [%d, %d)" % (ms, LATENCY_MS, LATENCY_MS + SLACK_MS)
        ok("round trip with the latency toxic: %.1f ms (in [%d, %d))" % (ms, LATENCY_MS, LATENCY_MS + SLACK_MS))
    step("latency round trip", s_latency)

    def s_toxic_errors():
        p = state["proxy"]
        try:
            p.add_toxic(type="latency", attributes={"latency": 1})
            raise AssertionError("a second latency_downstream was accepted")
        except ProxyExists:
            pass
        try:
            p.add_toxic(type="no_such_toxic_type", name="bogus")
            raise AssertionError("an unknown toxic type was accepted")
        except InvalidToxic:
            pass
        try:
            p.destroy_toxic("no_such_toxic")
            raise AssertionError("destroy_toxic of a missing toxic succeeded")
        except NotFound:
            pass
        ok("duplicate toxic -> ProxyExists (409), unknown type -> InvalidToxic (400), missing toxic -> NotFound (404)")
    step("toxic errors", s_toxic_errors)

    def s_list():
        proxies = server.proxies()
        assert name in proxies, "proxies() keys %r" % list(proxies)
        p = proxies[name]
        assert (p.listen, p.upstream, p.enabled) == (listen, upstream, True), \
            "listed as %r" % ((p.listen, p.upstream, p.enabled),)
        toxics = state["proxy"].toxics()
        assert list(toxics) == ["latency_downstream"], "toxics() %r" % list(toxics)
        ok("proxies() lists %s (%d proxies); toxics() lists %s" % (name, len(proxies), list(toxics)))
    step("list", s_list)

    def s_disable():
        p = state["proxy"]
        p.disable()
        err = connect_error(args.listen_port)
        assert err == errno.ECONNREFUSED, "connect after disable(): %r, expected ECONNREFUSED" % err
        listed = server.get_proxy(name)
        assert listed is not None and listed.enabled is False, "listed enabled=%r" % (listed and listed.enabled)
        ok("disable(): connect refused (ECONNREFUSED), proxies() shows enabled=False")
    step("disable", s_disable)

    def s_enable():
        p = state["proxy"]
        p.enable()
        ms = round_trip_ms(args.listen_port)
        listed = server.get_proxy(name)
        assert listed is not None and listed.enabled is True, "listed enabled=%r" % (listed and listed.enabled)
        assert listed.listen == listen, "listen after enable %r" % listed.listen
        assert ms >= LATENCY_MS, "round trip %.1f ms after enable: the toxic was lost" % ms
        ok("enable(): connect works again on %s, round trip %.1f ms (toxic kept)" % (listed.listen, ms))
    step("enable", s_enable)

    def s_down():
        p = state["proxy"]
        with p.down():
            err = connect_error(args.listen_port)
        assert err == errno.ECONNREFUSED, "connect inside down(): %r" % err
        assert connect_error(args.listen_port) is None, "connect after down() still fails"
        ok("with proxy.down(): refused inside, accepted after")
    step("down()", s_down)

    def s_remove_toxic():
        p = state["proxy"]
        assert p.destroy_toxic("latency_downstream") is True, "destroy_toxic returned false"
        assert p.toxics() == {}, "toxics() after removal %r" % list(p.toxics())
        ms = round_trip_ms(args.listen_port)
        assert ms < CLEAN_MS, "round trip %.1f ms after removing the toxic (limit %d)" % (ms, CLEAN_MS)
        ok("destroy_toxic(): toxics() empty, round trip %.1f ms (< %d)" % (ms, CLEAN_MS))
    step("remove toxic", s_remove_toxic)

    def s_reset():
        p = state["proxy"]
        p.add_toxic(type="latency", name="again", attributes={"latency": LATENCY_MS})
        p.disable()
        assert server.reset() is True, "reset() returned false"
        listed = server.get_proxy(name)
        assert listed is not None, "reset() removed the proxy"
        assert listed.enabled is True, "enabled after reset %r" % listed.enabled
        assert p.toxics() == {}, "toxics after reset %r" % list(p.toxics())
        ms = round_trip_ms(args.listen_port)
        assert ms < CLEAN_MS, "round trip %.1f ms after reset (limit %d)" % (ms, CLEAN_MS)
        ok("reset(): disabled proxy re-enabled, toxics removed, round trip %.1f ms" % ms)
    step("reset", s_reset)

    def s_populate():
        made = server.populate([{"name": name2, "upstream": upstream, "listen": listen2}])
        assert [x.name for x in made] == [name2], "populate() made %r" % [x.name for x in made]
        again = server.populate([{"name": name2, "upstream": upstream, "listen": listen2}])
        assert again == [], "populate() of an unchanged proxy made %r" % [x.name for x in again]
        ms = round_trip_ms(args.listen_port + 1)
        ok("populate() (client-side: GET /proxies + POST /proxies) made %s on %s, round trip %.1f ms"
           % (name2, listen2, ms))
    step("populate", s_populate)

    def s_destroy():
        p = state["proxy"]
        assert server.destroy(p) is True, "destroy() returned false"
        assert server.get_proxy(name) is None, "proxy still listed"
        err = connect_error(args.listen_port)
        assert err == errno.ECONNREFUSED, "connect after destroy %r" % err
        try:
            p.destroy()
            raise AssertionError("destroying it again succeeded")
        except NotFound:
            pass
        assert server.destroy(server.get_proxy(name2)) is True, "destroy of %s returned false" % name2
        left = [n for n in server.proxies() if n in (name, name2)]
        assert left == [], "still listed: %r" % left
        ok("destroy(): gone from proxies(), connect refused, second destroy -> NotFound; %s destroyed too" % name2)
    step("destroy", s_destroy)

    echo.close()
    print("summary: %d ok, %d failed" % (passes, failures), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
