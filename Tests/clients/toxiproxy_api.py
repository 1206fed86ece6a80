#!/usr/bin/env python3
"""Record what a Toxiproxy 2.12 control API answers, and compare another server to it.

    toxiproxy_api.py record  --url http://127.0.0.1:PORT --out Tests/fixtures/toxiproxy/answers.json
    toxiproxy_api.py compare --url http://127.0.0.1:PORT --fixture Tests/fixtures/toxiproxy/answers.json
    toxiproxy_api.py compare --url http://127.0.0.1:PORT --fixture Tests/fixtures/toxiproxy/answers.json \
        --differences Tests/fixtures/toxiproxy/faultline-differences.json

Both modes run the same sequence of steps (STEPS below) against a server that starts empty (no
proxies).  A step is an HTTP request {name, method, path, body | raw, headers} or a probe (a TCP
connect to a proxy's listen port: is it listening?).  Listen and upstream ports in requests are
placeholders ({{P1}}, {{UP}}, {{BLOCKED}}, ...) filled at run time with free 127.0.0.1 ports
from --ports (default 24000-24199); {{BLOCKED}} is held by a plain socket listener this script
opens, {{UP}}/{{UP2}} are free ports nobody listens on (Toxiproxy only connects upstream when a
client arrives).  In answers, "127.0.0.1:<port of a placeholder>" is written back as
"127.0.0.1:{{NAME}}", so a fixture compares across runs and servers.

compare checks, per step: status code and reason phrase; every response header except those in
IGNORED_HEADERS (a header present on one side only is a mismatch); the body: when both sides
parse as JSON, the parsed value and the key order of every object (Go writes struct fields in
declaration order, map keys sorted), then the exact bytes (whitespace, trailing newline); other
bodies byte for byte; for probes, listening or not.  It prints one line per mismatch,
`N steps, M mismatches`, and exits 1 on any mismatch.  With --differences, a server's declared
differences from Toxiproxy replace the fixture's answers where declared (still compared exactly;
see "Declared differences" below), and the declarations used are listed before the summary.

Standard library only.
"""

import argparse
import datetime
import http.client
import itertools
import json
import re
import socket
import sys
import time
import urllib.parse

# --------------------------------------------------------------------------------------------
# Tolerated differences.  Everything else must match exactly.
# --------------------------------------------------------------------------------------------

# Headers stored in the fixture but never compared:
IGNORED_HEADERS = {
    # The time of the answer.
    "date",
    # Message framing: Go sets Content-Length for bodies under 2 KB and switches to
    # Transfer-Encoding: chunked above; HTTP clients see the same body either way.
    "content-length",
    "transfer-encoding",
}

# Headers whose presence is compared but whose value is not:
PRESENCE_ONLY_HEADERS = {
    # A random per-request id (rs/xid, 20 chars); Toxiproxy sends it on every answer that reached
    # a route (not on 404 unknown path / 405 wrong method), so its presence is compared.
    "x-toxiproxy-request-id",
}

# Per-step tolerances (a step opts in with "tolerate": [...]):
#   "version"   - the value of "version" in GET /version: faultline reports its own version.
#                 The rest of the body (key, spacing, newline) is still compared byte for byte.
#   "ephemeral" - a proxy listening on "127.0.0.1:0" reports the port the kernel chose, which
#                 differs on every run; any 127.0.0.1 port that is not a placeholder becomes
#                 {{EPHEMERAL}} in that step's answer.
TOLERANCES = {"version", "ephemeral"}

# The size of the padding field in the huge-body steps (not stored in the fixture).
HUGE_PAD = 8 * 1024 * 1024

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CROSS_SITE = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site",
              "Sec-Fetch-Mode": "cors"}

PORT_PLACEHOLDERS = ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11",
                     "P12", "P13", "P14", "UP", "UP2", "BLOCKED"]


def L(p):
    """A 127.0.0.1 address with a port placeholder."""
    return "127.0.0.1:{{%s}}" % p


UP = L("UP")
UP2 = L("UP2")


def proxy(name, listen, upstream=UP, **kw):
    d = {"name": name, "listen": listen, "upstream": upstream}
    d.update(kw)
    return d


# --------------------------------------------------------------------------------------------
# The sequence.  Each step: name (unique), then either
#   method, path, and optionally body (a JSON value, sent serialized), raw (text sent as is),
#   headers (dict), pad (add a field "pad" of HUGE_PAD bytes to the JSON object body),
#   tolerate (list from TOLERANCES);
# or probe: a port placeholder name (answer: {"listening": bool}).
# The server must start with no proxies.  The order matters: later steps rely on earlier state.
# --------------------------------------------------------------------------------------------

def S(name, method, path, body=None, **kw):
    d = {"name": name, "method": method, "path": path}
    if body is not None:
        d["body"] = body
    d.update(kw)
    return d


def R(name, method, path, raw, **kw):
    d = {"name": name, "method": method, "path": path, "raw": raw}
    d.update(kw)
    return d


def P(name, port):
    return {"name": name, "probe": port}


STEPS = [
    # ---- version, empty index
    S("version", "GET", "/version", tolerate=["version"]),
    S("version_query_string", "GET", "/version?x=1", tolerate=["version"]),
    S("version_head", "HEAD", "/version"),
    S("version_double_slash_redirect", "GET", "//version"),
    S("proxies_empty", "GET", "/proxies"),
    S("toxics_of_unknown_proxy", "GET", "/proxies/a/toxics"),

    # ---- create
    S("create_a", "POST", "/proxies", proxy("a", L("P1"))),
    P("probe_a_listening", "P1"),
    S("create_name_clash", "POST", "/proxies", proxy("a", L("P2"))),
    P("probe_name_clash_port_not_opened", "P2"),
    S("create_listen_clash_other_proxy", "POST", "/proxies", proxy("b", L("P1"))),
    S("create_listen_taken_by_other_process", "POST", "/proxies", proxy("b", L("BLOCKED"))),
    S("get_b_not_added_after_failed_create", "GET", "/proxies/b"),
    S("create_missing_name", "POST", "/proxies", {"listen": L("P2"), "upstream": UP}),
    S("create_empty_name", "POST", "/proxies", proxy("", L("P2"))),
    S("create_missing_upstream", "POST", "/proxies", {"name": "b", "listen": L("P2")}),
    S("create_empty_upstream", "POST", "/proxies", proxy("b", L("P2"), upstream="")),
    S("create_empty_object", "POST", "/proxies", {}),
    # A missing listen is accepted by Toxiproxy and binds [::]:<random> on ALL interfaces; it is
    # not in this sequence because tests here may only listen on 127.0.0.1 (see the notes).
    S("create_listen_no_port", "POST", "/proxies", proxy("b", "nonsense")),
    S("create_listen_bad_port", "POST", "/proxies", proxy("b", "127.0.0.1:99999")),
    S("create_listen_wrong_type", "POST", "/proxies", {"name": "b", "listen": 5, "upstream": UP}),
    S("create_name_wrong_type", "POST", "/proxies", {"name": 5, "listen": L("P2"), "upstream": UP}),
    S("create_enabled_wrong_type", "POST", "/proxies", proxy("b", L("P2"), enabled="yes")),
    R("create_bad_json", "POST", "/proxies", '{"name": "b", bad'),
    R("create_empty_body", "POST", "/proxies", ""),
    R("create_null_body", "POST", "/proxies", "null"),
    S("create_array_body", "POST", "/proxies", [proxy("b", L("P2"))]),
    S("get_b_still_absent", "GET", "/proxies/b"),
    S("create_unknown_field_ignored", "POST", "/proxies", proxy("c", L("P2"), bogus=1)),
    R("create_trailing_garbage_ignored", "POST", "/proxies",
      '{"name":"g","listen":"%s","upstream":"%s"}xyz' % (L("P11"), UP)),
    S("delete_g", "DELETE", "/proxies/g"),
    S("create_disabled", "POST", "/proxies", proxy("d", L("P3"), enabled=False)),
    P("probe_disabled_not_listening", "P3"),
    S("create_port_zero", "POST", "/proxies", proxy("e", "127.0.0.1:0"), tolerate=["ephemeral"]),
    S("get_port_zero", "GET", "/proxies/e", tolerate=["ephemeral"]),
    S("delete_port_zero", "DELETE", "/proxies/e"),
    S("create_with_json_content_type", "POST", "/proxies", proxy("f", L("P12")),
      headers={"Content-Type": "application/json"}),
    S("delete_f", "DELETE", "/proxies/f"),
    S("proxies_index_three", "GET", "/proxies"),

    # ---- show
    S("get_a", "GET", "/proxies/a"),
    S("get_unknown", "GET", "/proxies/nope"),
    S("get_a_head", "HEAD", "/proxies/a"),
    S("get_trailing_slash", "GET", "/proxies/"),
    S("get_encoded_slash", "GET", "/proxies/a%2Fb"),

    # ---- update (POST and PATCH are the same handler)
    S("patch_upstream", "PATCH", "/proxies/a", {"upstream": UP2}),
    S("post_update_listen", "POST", "/proxies/a", {"listen": L("P4")}),
    P("probe_old_listen_closed", "P1"),
    P("probe_new_listen_open", "P4"),
    S("patch_disable", "PATCH", "/proxies/a", {"enabled": False}),
    P("probe_disabled_closed", "P4"),
    S("patch_disable_again", "PATCH", "/proxies/a", {"enabled": False}),
    S("patch_enable", "PATCH", "/proxies/a", {"enabled": True}),
    P("probe_enabled_open", "P4"),
    S("patch_enable_again", "POST", "/proxies/a", {"enabled": True}),
    S("patch_name_ignored", "PATCH", "/proxies/a", {"name": "renamed"}),
    S("get_renamed_absent", "GET", "/proxies/renamed"),
    S("patch_empty_object", "PATCH", "/proxies/a", {}),
    S("patch_unknown_field", "PATCH", "/proxies/a", {"bogus": True}),
    S("patch_listen_no_port", "PATCH", "/proxies/a", {"listen": "bad"}),
    S("patch_enabled_wrong_type", "PATCH", "/proxies/a", {"enabled": "x"}),
    R("patch_bad_json", "PATCH", "/proxies/a", "{bad"),
    R("patch_empty_body", "PATCH", "/proxies/a", ""),
    S("patch_unknown_proxy", "PATCH", "/proxies/nope", {"enabled": False}),
    S("post_update_unknown_proxy", "POST", "/proxies/nope", {}),
    S("patch_disabled_listen", "PATCH", "/proxies/d", {"listen": L("P5")}),
    P("probe_disabled_after_listen_change", "P5"),
    S("patch_listen_taken", "PATCH", "/proxies/c", {"listen": L("BLOCKED")}),
    S("get_c_after_failed_listen_change", "GET", "/proxies/c"),
    P("probe_c_old_port_after_failed_change", "P2"),
    S("patch_c_listen_and_enable", "PATCH", "/proxies/c", {"listen": L("P6"), "enabled": True}),
    P("probe_c_new_port", "P6"),
    S("get_a_after_updates", "GET", "/proxies/a"),

    # ---- toxics: create
    S("toxics_empty", "GET", "/proxies/a/toxics"),
    S("toxic_latency_defaults", "POST", "/proxies/a/toxics",
      {"type": "latency", "attributes": {"latency": 5}}),
    S("toxic_latency_explicit", "POST", "/proxies/a/toxics",
      {"name": "lat_up", "type": "latency", "stream": "upstream", "toxicity": 0.5,
       "attributes": {"latency": 100, "jitter": 10}}),
    S("toxic_bandwidth", "POST", "/proxies/a/toxics",
      {"name": "bw", "type": "bandwidth", "stream": "upstream", "attributes": {"rate": 100}}),
    S("toxic_slow_close", "POST", "/proxies/a/toxics",
      {"name": "sc", "type": "slow_close", "attributes": {"delay": 50}}),
    S("toxic_timeout", "POST", "/proxies/a/toxics",
      {"name": "to", "type": "timeout", "toxicity": 0.25, "attributes": {"timeout": 1000}}),
    S("toxic_reset_peer", "POST", "/proxies/a/toxics",
      {"name": "rp", "type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 10}}),
    S("toxic_slicer", "POST", "/proxies/a/toxics",
      {"name": "sl", "type": "slicer",
       "attributes": {"average_size": 64, "size_variation": 8, "delay": 10}}),
    S("toxic_limit_data", "POST", "/proxies/a/toxics",
      {"name": "ld", "type": "limit_data", "attributes": {"bytes": 1024}}),
    # Defaults of every type, created without attributes (names default to TYPE_STREAM).
    S("toxic_default_latency", "POST", "/proxies/c/toxics", {"type": "latency"}),
    S("toxic_default_bandwidth", "POST", "/proxies/c/toxics", {"type": "bandwidth"}),
    S("toxic_default_slow_close", "POST", "/proxies/c/toxics", {"type": "slow_close"}),
    S("toxic_default_timeout", "POST", "/proxies/c/toxics", {"type": "timeout"}),
    S("toxic_default_reset_peer", "POST", "/proxies/c/toxics", {"type": "reset_peer"}),
    S("toxic_default_slicer", "POST", "/proxies/c/toxics", {"type": "slicer"}),
    S("toxic_default_limit_data", "POST", "/proxies/c/toxics", {"type": "limit_data"}),
    S("toxic_default_upstream_name", "POST", "/proxies/c/toxics",
      {"type": "latency", "stream": "upstream"}),
    S("toxic_noop_type", "POST", "/proxies/c/toxics", {"type": "noop"}),
    S("toxics_of_c", "GET", "/proxies/c/toxics"),
    # Errors
    S("toxic_duplicate_name", "POST", "/proxies/a/toxics",
      {"name": "bw", "type": "latency", "stream": "downstream"}),
    S("toxic_duplicate_default_name", "POST", "/proxies/a/toxics", {"type": "latency"}),
    S("toxic_unknown_type", "POST", "/proxies/a/toxics", {"name": "x", "type": "nosuch"}),
    S("toxic_missing_type", "POST", "/proxies/a/toxics", {"name": "x"}),
    S("toxic_empty_object", "POST", "/proxies/a/toxics", {}),
    S("toxic_bad_stream", "POST", "/proxies/a/toxics",
      {"name": "x", "type": "latency", "stream": "sideways"}),
    S("toxic_empty_stream", "POST", "/proxies/a/toxics",
      {"name": "x", "type": "latency", "stream": ""}),
    S("toxic_bad_stream_and_type", "POST", "/proxies/a/toxics", {"type": "nosuch", "stream": "bad"}),
    S("toxic_bad_type_and_duplicate", "POST", "/proxies/a/toxics", {"name": "bw", "type": "nosuch"}),
    S("toxic_stream_mixed_case", "POST", "/proxies/a/toxics",
      {"name": "mc", "type": "latency", "stream": "UpStream"}),
    S("toxic_stream_mixed_case_default_name", "POST", "/proxies/c/toxics",
      {"type": "timeout", "stream": "Upstream"}),
    S("toxic_toxicity_above_one", "POST", "/proxies/a/toxics",
      {"name": "tx5", "type": "latency", "toxicity": 5}),
    S("toxic_toxicity_negative", "POST", "/proxies/a/toxics",
      {"name": "txneg", "type": "latency", "toxicity": -1}),
    S("toxic_toxicity_zero", "POST", "/proxies/a/toxics",
      {"name": "tx0", "type": "latency", "toxicity": 0}),
    S("toxic_toxicity_wrong_type", "POST", "/proxies/a/toxics",
      {"name": "x", "type": "latency", "toxicity": "high"}),
    S("toxic_negative_latency", "POST", "/proxies/a/toxics",
      {"name": "neg", "type": "latency", "attributes": {"latency": -100}}),
    S("toxic_attribute_wrong_type", "POST", "/proxies/a/toxics",
      {"name": "x", "type": "latency", "attributes": {"latency": "100"}}),
    S("toxic_attribute_float", "POST", "/proxies/a/toxics",
      {"name": "x", "type": "latency", "attributes": {"latency": 1.5}}),
    S("toxic_attributes_array", "POST", "/proxies/a/toxics",
      {"name": "x", "type": "latency", "attributes": [1]}),
    S("toxic_attributes_null", "POST", "/proxies/a/toxics",
      {"name": "anull", "type": "bandwidth", "attributes": None}),
    S("toxic_unknown_attribute", "POST", "/proxies/a/toxics",
      {"name": "unk", "type": "limit_data", "attributes": {"bogus": 1, "bytes": 7}}),
    S("toxic_unknown_top_level_field", "POST", "/proxies/a/toxics",
      {"name": "unk2", "type": "slow_close", "bogus": 1}),
    S("toxic_name_wrong_type", "POST", "/proxies/a/toxics", {"name": 7, "type": "latency"}),
    R("toxic_bad_json", "POST", "/proxies/a/toxics", "{bad"),
    R("toxic_empty_body", "POST", "/proxies/a/toxics", ""),
    S("toxic_array_body", "POST", "/proxies/a/toxics", [{"type": "latency"}]),
    S("toxic_create_unknown_proxy", "POST", "/proxies/nope/toxics", {"type": "latency"}),
    S("toxics_of_a", "GET", "/proxies/a/toxics"),
    S("get_a_with_toxics", "GET", "/proxies/a"),
    S("proxies_index_with_toxics", "GET", "/proxies"),

    # ---- toxics: show, update, delete
    S("toxic_get", "GET", "/proxies/a/toxics/lat_up"),
    S("toxic_get_unknown", "GET", "/proxies/a/toxics/nope"),
    S("toxic_get_unknown_proxy", "GET", "/proxies/nope/toxics/lat_up"),
    S("toxic_get_head", "HEAD", "/proxies/a/toxics/lat_up"),
    S("toxic_patch_one_attribute", "PATCH", "/proxies/a/toxics/lat_up",
      {"attributes": {"jitter": 3}}),
    S("toxic_post_toxicity_only", "POST", "/proxies/a/toxics/lat_up", {"toxicity": 0.75}),
    S("toxic_patch_name_type_stream_ignored", "PATCH", "/proxies/a/toxics/lat_up",
      {"name": "renamed", "type": "bandwidth", "stream": "downstream",
       "attributes": {"latency": 7}}),
    S("toxic_patch_empty_object", "PATCH", "/proxies/a/toxics/lat_up", {}),
    S("toxic_patch_toxicity_out_of_range", "PATCH", "/proxies/a/toxics/sc", {"toxicity": 2}),
    S("toxic_patch_wrong_type_partial", "PATCH", "/proxies/a/toxics/lat_up",
      {"toxicity": 0.1, "attributes": {"latency": "x", "jitter": 9}}),
    S("toxic_get_after_failed_patch", "GET", "/proxies/a/toxics/lat_up"),
    S("toxic_patch_attributes_null", "PATCH", "/proxies/a/toxics/bw", {"attributes": None}),
    S("toxic_patch_unknown_attribute", "PATCH", "/proxies/a/toxics/bw",
      {"attributes": {"bogus": 1, "rate": 5}}),
    R("toxic_patch_bad_json", "PATCH", "/proxies/a/toxics/lat_up", "{bad"),
    R("toxic_patch_empty_body", "PATCH", "/proxies/a/toxics/lat_up", ""),
    S("toxic_patch_unknown", "PATCH", "/proxies/a/toxics/nope", {}),
    S("toxic_patch_unknown_proxy", "PATCH", "/proxies/nope/toxics/lat_up", {}),
    S("toxic_delete", "DELETE", "/proxies/a/toxics/sc"),
    S("toxic_delete_again", "DELETE", "/proxies/a/toxics/sc"),
    S("toxic_delete_unknown_proxy", "DELETE", "/proxies/nope/toxics/sc"),
    S("toxics_after_delete", "GET", "/proxies/a/toxics"),
    S("toxic_readd_after_delete", "POST", "/proxies/a/toxics",
      {"name": "sc", "type": "slow_close", "stream": "upstream", "attributes": {"delay": 1}}),
    S("toxics_after_readd", "GET", "/proxies/a/toxics"),
    S("disable_a_with_toxics", "PATCH", "/proxies/a", {"enabled": False}),
    S("toxics_kept_when_disabled", "GET", "/proxies/a/toxics"),
    S("toxic_add_while_disabled", "POST", "/proxies/a/toxics", {"name": "late", "type": "timeout"}),
    S("enable_a_with_toxics", "PATCH", "/proxies/a", {"enabled": True}),

    # ---- unknown paths, wrong methods
    S("unknown_path", "GET", "/nosuch"),
    S("unknown_path_post", "POST", "/nosuch", {}),
    S("unknown_nested_path", "GET", "/proxies/a/toxics/lat_up/extra"),
    S("unknown_path_head", "HEAD", "/nosuch"),
    S("method_put_proxies", "PUT", "/proxies", {}),
    S("method_delete_proxies", "DELETE", "/proxies"),
    S("method_patch_proxies", "PATCH", "/proxies", {}),
    S("method_get_reset", "GET", "/reset"),
    S("method_get_populate", "GET", "/populate"),
    S("method_post_version", "POST", "/version"),
    S("method_put_proxy", "PUT", "/proxies/a", {}),
    S("method_put_toxics", "PUT", "/proxies/a/toxics", {}),
    S("method_delete_toxics", "DELETE", "/proxies/a/toxics"),
    S("method_put_toxic", "PUT", "/proxies/a/toxics/lat_up", {}),
    S("method_head_proxies", "HEAD", "/proxies"),
    S("method_options_proxies", "OPTIONS", "/proxies",
      headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}),

    # ---- browsers
    S("browser_get_version", "GET", "/version", headers={"User-Agent": BROWSER_UA}),
    S("browser_get_proxies", "GET", "/proxies", headers={"User-Agent": BROWSER_UA}),
    S("browser_create_proxy", "POST", "/proxies", proxy("br", L("P13")),
      headers={"User-Agent": BROWSER_UA}),
    S("browser_create_was_refused", "GET", "/proxies/br"),
    S("browser_post_reset", "POST", "/reset", headers={"User-Agent": BROWSER_UA}),
    S("browser_unknown_path", "GET", "/nosuch", headers={"User-Agent": BROWSER_UA}),
    S("browser_wrong_method", "PUT", "/proxies", {}, headers={"User-Agent": BROWSER_UA}),
    S("browser_ua_bare_mozilla", "GET", "/version", headers={"User-Agent": "Mozilla"},
      tolerate=["version"]),
    S("browser_ua_lowercase", "GET", "/version", headers={"User-Agent": "mozilla/5.0"},
      tolerate=["version"]),
    S("browser_ua_not_prefix", "GET", "/version",
      headers={"User-Agent": "curl/8.0 Mozilla/5.0"}, tolerate=["version"]),
    S("cross_site_get", "GET", "/proxies/a/toxics", headers=dict(CROSS_SITE)),
    S("cross_site_create", "POST", "/proxies", proxy("xs", L("P13")), headers=dict(CROSS_SITE)),
    S("cross_site_delete", "DELETE", "/proxies/xs", headers=dict(CROSS_SITE)),
    S("cross_site_browser", "GET", "/version",
      headers=dict(CROSS_SITE, **{"User-Agent": BROWSER_UA})),

    # ---- huge body
    S("huge_body_create", "POST", "/proxies", proxy("huge", L("P14")), pad=True),
    S("huge_body_toxic", "POST", "/proxies/huge/toxics", {"name": "h", "type": "latency"},
      pad=True),
    S("huge_delete", "DELETE", "/proxies/huge"),

    # ---- reset
    S("before_reset", "GET", "/proxies"),
    R("reset", "POST", "/reset", "garbage is ignored"),
    S("after_reset", "GET", "/proxies"),
    P("probe_reset_enabled_disabled_proxy", "P5"),
    S("reset_again_empty_body", "POST", "/reset"),

    # ---- delete
    S("delete_a", "DELETE", "/proxies/a"),
    P("probe_deleted_closed", "P4"),
    S("delete_a_again", "DELETE", "/proxies/a"),
    S("get_deleted", "GET", "/proxies/a"),
    S("delete_c", "DELETE", "/proxies/c"),
    S("delete_d", "DELETE", "/proxies/d"),
    S("proxies_empty_again", "GET", "/proxies"),

    # ---- populate
    S("populate_two", "POST", "/populate",
      [proxy("p1", L("P7")), proxy("p2", L("P8"), enabled=False)]),
    P("probe_populated_enabled", "P7"),
    P("probe_populated_disabled", "P8"),
    S("populate_p1_add_toxic", "POST", "/proxies/p1/toxics", {"type": "latency"}),
    S("populate_same_again_kept", "POST", "/populate",
      [proxy("p1", L("P7")), proxy("p2", L("P8"), enabled=True)]),
    S("populate_same_disabled_flag_ignored", "POST", "/populate",
      [proxy("p1", L("P7"), enabled=False)]),
    P("probe_populate_same_still_listening", "P7"),
    S("populate_change_upstream_replaced", "POST", "/populate", [proxy("p1", L("P7"), UP2)]),
    S("populate_p1_add_toxic_again", "POST", "/proxies/p1/toxics", {"type": "bandwidth"}),
    S("populate_change_listen_replaced", "POST", "/populate", [proxy("p1", L("P9"), UP2)]),
    P("probe_populate_old_listen_closed", "P7"),
    P("probe_populate_new_listen_open", "P9"),
    S("populate_bad_entry_missing_name", "POST", "/populate",
      [proxy("p3", L("P10")), {"listen": L("P11"), "upstream": UP}]),
    S("populate_bad_entry_missing_upstream", "POST", "/populate",
      [proxy("p3", L("P10")), {"name": "p4", "listen": L("P11")}]),
    S("populate_nothing_applied", "GET", "/proxies"),
    S("populate_fails_midway", "POST", "/populate",
      [proxy("p3", L("P10")), proxy("p4", L("BLOCKED")), proxy("p5", L("P11"))]),
    S("populate_midway_state", "GET", "/proxies"),
    S("populate_fails_midway_on_replace", "POST", "/populate",
      [proxy("p3", L("P10"), UP2), proxy("p1", L("P10"))]),
    S("populate_replace_failure_state", "GET", "/proxies"),
    S("populate_listen_no_port", "POST", "/populate", [proxy("p6", "bad")]),
    S("populate_object_body", "POST", "/populate", proxy("p6", L("P11"))),
    S("populate_enabled_wrong_type", "POST", "/populate", [proxy("p6", L("P11"), enabled="yes")]),
    S("populate_entry_not_object", "POST", "/populate", ["p6"]),
    R("populate_bad_json", "POST", "/populate", "[{bad"),
    R("populate_empty_body", "POST", "/populate", ""),
    S("populate_empty_array", "POST", "/populate", []),
    R("populate_null", "POST", "/populate", "null"),
    S("populate_unknown_field", "POST", "/populate", [proxy("p6", L("P11"), bogus=[1])]),
    S("populate_final_state", "GET", "/proxies"),
    S("populate_cleanup_p1", "DELETE", "/proxies/p1"),
    S("populate_cleanup_p2", "DELETE", "/proxies/p2"),
    S("populate_cleanup_p3", "DELETE", "/proxies/p3"),
    S("populate_cleanup_p6", "DELETE", "/proxies/p6"),

    # ---- reset failing: a disabled proxy whose listen port is now taken (the only proxy, so
    # the outcome does not depend on Go's random map order)
    S("reset_fail_setup", "POST", "/proxies", proxy("r", L("BLOCKED"), enabled=False)),
    S("reset_fail_setup_toxic", "POST", "/proxies/r/toxics", {"type": "latency"}),
    S("reset_listen_taken", "POST", "/reset"),
    S("reset_fail_state", "GET", "/proxies"),
    S("reset_fail_cleanup", "DELETE", "/proxies/r"),
    S("proxies_empty_at_end", "GET", "/proxies"),
]


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------

class Ports:
    """Free 127.0.0.1 ports for the placeholders; {{BLOCKED}} is held by a listener of ours."""

    def __init__(self, lo, hi, exclude):
        self.values = {}
        self.blocker = None
        candidates = iter(range(lo, hi + 1))
        for name in PORT_PLACEHOLDERS:
            for port in candidates:
                if port in exclude:
                    continue
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    s.close()
                    continue
                if name == "BLOCKED":
                    s.listen(8)
                    self.blocker = s
                else:
                    s.close()
                self.values[name] = port
                break
            else:
                raise SystemExit("not enough free ports in %d-%d" % (lo, hi))
        self.by_port = {v: k for k, v in self.values.items()}

    def fill(self, text):
        for name, port in self.values.items():
            text = text.replace("{{%s}}" % name, str(port))
        return text

    def unfill(self, text, ephemeral=False):
        def sub(m):
            port = int(m.group(1))
            if port in self.by_port:
                return "127.0.0.1:{{%s}}" % self.by_port[port]
            if ephemeral:
                return "127.0.0.1:{{EPHEMERAL}}"
            return m.group(0)
        return re.sub(r"127\.0\.0\.1:(\d+)", sub, text)

    def close(self):
        if self.blocker:
            self.blocker.close()


def request_body(step):
    """The body as sent (placeholders unfilled), and how the fixture shows it."""
    if "raw" in step:
        return step["raw"], step["raw"]
    if "body" not in step:
        return None, None
    body = step["body"]
    if step.get("pad"):
        sent = json.dumps(dict(body, pad="x" * HUGE_PAD), separators=(",", ":"))
        shown = dict(body, pad="<%d bytes of x>" % HUGE_PAD)
        return sent, shown
    return json.dumps(body, separators=(",", ":")), body


def probe(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def run_step(step, host, port, ports):
    if "probe" in step:
        return {"listening": probe(ports.values[step["probe"]])}
    tolerate = step.get("tolerate", [])
    sent, _ = request_body(step)
    headers = dict(step.get("headers", {}))
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        path = ports.fill(step["path"])
        if sent is not None:
            data = ports.fill(sent).encode()
            conn.request(step["method"], path, body=data, headers=headers)
        else:
            conn.request(step["method"], path, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        hdrs = [[k, ports.unfill(v)] for k, v in resp.getheaders()]
        status, reason = resp.status, resp.reason
    finally:
        conn.close()
    text = raw.decode("utf-8", errors="replace")
    text = ports.unfill(text, ephemeral="ephemeral" in tolerate)
    if "version" in tolerate:
        text = re.sub(r'("version"\s*:\s*")[^"]*(")', r"\1{{VERSION}}\2", text)
    return {"status": status, "reason": reason, "headers": hdrs, "body": text}


def run_all(url, port_range, after=None):
    """The answers to STEPS.  after(step, answer, send), when given, is called after each step
    and may send further requests with send(request) (compare --differences: "then")."""
    u = urllib.parse.urlparse(url)
    host, port = u.hostname, u.port or 80
    lo, hi = port_range
    ports = Ports(lo, hi, exclude={port})
    answers = []

    def send(step):
        try:
            return run_step(step, host, port, ports)
        except (OSError, http.client.HTTPException) as e:
            # No answer (refused, reset, timeout, malformed): a mismatch in compare mode,
            # fatal in record mode.
            return {"failure": "%s: %s" % (type(e).__name__, e)}

    try:
        for step in STEPS:
            answers.append(send(step))
            if "probe" in step:
                time.sleep(0.05)  # let the server notice the probe connection closing
            if after is not None:
                after(step, answers[-1], send)
    finally:
        ports.close()
    return answers


def check_steps():
    names = [s["name"] for s in STEPS]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, dup
    for s in STEPS:
        for t in s.get("tolerate", []):
            assert t in TOLERANCES, (s["name"], t)


# --------------------------------------------------------------------------------------------
# Comparing
# --------------------------------------------------------------------------------------------

NOT_JSON = object()


def parse_ordered(text):
    """JSON with objects as ("obj", pairs) (so key order is kept); NOT_JSON when not JSON."""
    if not text.strip():
        return NOT_JSON
    try:
        return json.loads(text, object_pairs_hook=lambda pairs: ("obj", pairs))
    except ValueError:
        return NOT_JSON


def is_obj(v):
    return isinstance(v, tuple) and len(v) == 2 and v[0] == "obj"


def short(v, limit=300):
    s = json.dumps(v) if not isinstance(v, str) else repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def plain(v):
    if is_obj(v):
        return {k: plain(x) for k, x in v[1]}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def compare_json(path, exp, got, out):
    if is_obj(exp) and is_obj(got):
        ek = [k for k, _ in exp[1]]
        gk = [k for k, _ in got[1]]
        if ek != gk:
            if sorted(ek) == sorted(gk):
                out.append((path + " key order", ek, gk))
            else:
                out.append((path + " keys", ek, gk))
        gd = dict(got[1])
        for k, v in exp[1]:
            if k in gd:
                compare_json("%s.%s" % (path, k), v, gd[k], out)
        return
    if isinstance(exp, list) and isinstance(got, list):
        if len(exp) != len(got):
            out.append((path + " length", len(exp), len(got)))
        for i, (e, g) in enumerate(zip(exp, got)):
            compare_json("%s[%d]" % (path, i), e, g, out)
        return
    # Scalars: JSON true/1 and 1/1.0 must not pass for each other.
    if type(exp) is not type(got) and not (
            isinstance(exp, (int, float)) and isinstance(got, (int, float))
            and not isinstance(exp, bool) and not isinstance(got, bool)):
        out.append((path, plain(exp), plain(got)))
    elif exp != got:
        out.append((path, plain(exp), plain(got)))


def header_map(hdrs):
    m = {}
    for k, v in hdrs:
        m.setdefault(k.lower(), []).append(v)
    return m


def compare_answer(step, exp, got):
    """A list of (field, expected, got)."""
    out = []
    if "failure" in got:
        return [("answer", "an answer", got["failure"])]
    if "probe" in step:
        if exp.get("listening") != got.get("listening"):
            out.append(("listening", exp.get("listening"), got.get("listening")))
        return out
    if exp["status"] != got["status"]:
        out.append(("status", exp["status"], got["status"]))
    if exp["reason"] != got["reason"]:
        out.append(("reason", exp["reason"], got["reason"]))
    eh, gh = header_map(exp["headers"]), header_map(got["headers"])
    for name in sorted(set(eh) | set(gh)):
        if name in IGNORED_HEADERS:
            continue
        e, g = eh.get(name), gh.get(name)
        if name in PRESENCE_ONLY_HEADERS:
            if (e is None) != (g is None):
                out.append(("header " + name, "present" if e else "(absent)",
                            "present" if g else "(absent)"))
            continue
        if e != g:
            out.append(("header " + name, e[0] if e and len(e) == 1 else e or "(absent)",
                        g[0] if g and len(g) == 1 else g or "(absent)"))
    ej, gj = parse_ordered(exp["body"]), parse_ordered(got["body"])
    if ej is not NOT_JSON and gj is not NOT_JSON:
        before = len(out)
        compare_json("body", ej, gj, out)
        if len(out) == before and exp["body"] != got["body"]:
            # Same JSON, different bytes: spacing, escaping or the trailing newline.
            out.append(("body bytes", exp["body"], got["body"]))
    elif exp["body"] != got["body"]:
        out.append(("body", exp["body"], got["body"]))
    return out


# --------------------------------------------------------------------------------------------
# Declared differences (compare --differences FILE)
#
# A server that differs from Toxiproxy on purpose (faultline: docs in its api-differences notes)
# declares each difference in a JSON file; its answer is then checked, exactly, against the
# declared answer instead of the fixture's.  Nothing is skipped.  The file:
#
#   {"rules": [RULE, ...], "steps": {STEP_NAME: ENTRY, ...}}
#
#   RULE  {"id", "difference": N, "reason", "drop_proxy_key": "Logger"}
#         applies to every step: the key is removed from every proxy object of the expected body.
#   ENTRY {"difference": N or [N, ...], "reason": "one sentence",
#          "expect": EXPECT,            (optional) the step's own answer
#          "then": [REQUEST, ...],      (optional) sent right after the step, see below
#          "carry": [CARRY, ...]}       (optional) a lasting state difference, see below
#   EXPECT, built from the fixture's answer for the step:
#     {"status": S, "error": TEXT}            an API error: status S, Toxiproxy's error framing
#         (http.Error: text/plain; charset=utf-8, nosniff, {"error","status"} and a newline; on
#         /populate: application/json, {"error","status","proxies"}, "proxies" from EXPECT, default
#         null), the request id header present;
#     {"status": S, "text": TEXT}             a plain-text answer (http.Error framing as above),
#         body exactly TEXT;
#     {"status": S, "body": JSON}             a JSON success answer with this exact body;
#     {"set": {PATH: VALUE, ...}}             the fixture's JSON body with these fields changed,
#         PATH like "stream", "[3].stream", "a.toxics[0].name" (the field must exist);
#     with a status, the reason phrase is Go's for it unless EXPECT gives "reason";
#     "request_id": false: without the X-Toxiproxy-Request-Id header (answered before routing).
#   REQUEST {"method", "path", "body": JSON | "raw": TEXT, "status": S}: a request sent after
#     the step (placeholders filled as in steps) to keep the server's state the same as
#     Toxiproxy's when a declared difference changed it (e.g. the create refused for its unknown
#     field is sent again without it); its status is checked.  Not sent when the step answered
#     as the fixture (the difference did not occur, the state is already the same).
#   CARRY {"proxy": P, "toxic": T (optional), "set": {PATH: VALUE} | "remove": true,
#          "through": STEP}
#     a difference the server's state keeps (a value faultline stores differently and no request
#     can make equal): from this step through STEP, in every expected body, the toxic T of proxy
#     P (or proxy P itself) has these fields set, or (remove) the toxic T is not in P's toxic
#     lists.  A toxic is found in proxy objects (by name) and in answers of
#     /proxies/P/toxics[/T], by its name in the fixture.
#
# Every declaration must change the expected answer of the steps it applies to, and the
# server's answer must then match the declared answer: a declaration without which the answer
# would match is reported "declared difference did not occur", one that changes nothing
# "declared difference changes nothing" - so the file cannot rot.
# --------------------------------------------------------------------------------------------

# Go's http.StatusText for the statuses an answer may be declared with (Python's table changes
# with its version: 413 is "Content Too Large" from 3.13).
GO_STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
                  403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
                  413: "Request Entity Too Large", 500: "Internal Server Error"}


def go_json(value):
    """Compact JSON as Go's encoding/json writes it (HTML characters escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for c, e in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                 ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(c, e)
    return text


def is_proxy_object(v):
    return isinstance(v, dict) and {"name", "upstream", "toxics"} <= set(v)


def is_toxic_object(v):
    return isinstance(v, dict) and {"attributes", "name", "type", "stream", "toxicity"} <= set(v)


PATH_TOKEN = re.compile(r"\[(\d+)\]|\.?([^.\[\]]+)")


def set_path(value, path, new):
    tokens = [int(i) if i else k for i, k in PATH_TOKEN.findall(path)]
    if not tokens or "".join("[%s]" % t if isinstance(t, int) else "." + t
                             for t in tokens).lstrip(".") != path:
        raise ValueError("bad path %r" % path)
    for t in tokens[:-1]:
        value = value[t]
    last = tokens[-1]
    if isinstance(last, str) and last not in value:
        raise KeyError(path)
    value[last] = new


def path_proxy(path):
    """The proxy a /proxies/P/toxics[/T] path names (toxic objects at the top of its answer)."""
    m = re.match(r"^/proxies/([^/?]+)/toxics(/|$|\?)", path)
    return urllib.parse.unquote(m.group(1)) if m else None


class Layer:
    """One declaration applied to one step's expected answer."""

    def __init__(self, kind, label, apply):
        self.kind, self.label, self.apply = kind, label, apply


class Differences:
    def __init__(self, path, steps):
        with open(path) as f:
            doc = json.load(f)
        self.problems = []  # (step, field, expected, got) about the file itself
        self.rules = doc.get("rules", [])
        self.entries = doc.get("steps", {})
        names = [s["name"] for s in steps]
        self.index = {n: i for i, n in enumerate(names)}
        for rule in self.rules:
            self.known_keys("rule " + rule.get("id", "?"), "rule", rule, self.RULE_KEYS)
            if "drop_proxy_key" not in rule:
                self.problems.append(("rule " + rule.get("id", "?"), "differences",
                                      "drop_proxy_key", "an unknown rule"))
        self.carries = []  # (from index, through index, label, carry)
        for name, entry in self.entries.items():
            if name not in self.index:
                self.problems.append((name, "differences", "a step of the sequence",
                                      "no such step"))
                continue
            for key in ("difference", "reason"):
                if key not in entry:
                    self.problems.append((name, "differences", "a %r" % key, "(absent)"))
            if "expect" not in entry and "carry" not in entry:
                self.problems.append((name, "differences", "an expect or a carry", "neither"))
            self.known_keys(name, "entry", entry, self.ENTRY_KEYS)
            self.known_keys(name, "expect", entry.get("expect", {}), self.EXPECT_KEYS)
            for req in entry.get("then", []):
                self.known_keys(name, "then", req, self.THEN_KEYS)
            for c in entry.get("carry", []):
                self.known_keys(name, "carry", c, self.CARRY_KEYS)
            for c in entry.get("carry", []):
                through = self.index.get(c.get("through"))
                if through is None or through < self.index[name]:
                    self.problems.append((name, "differences carry",
                                          "through: this or a later step", c.get("through")))
                    continue
                what = "%s/%s" % (c["proxy"], c["toxic"]) if "toxic" in c else c["proxy"]
                label = "%s (%s, declared at %s)" % (what, self.numbers(entry), name)
                self.carries.append((self.index[name], through, label, c))
        self.used = {}        # step -> [labels]
        self.carry_uses = {}  # carry label -> count
        self.rule_uses = {}   # rule id -> count
        self.then_sent = []   # (step, request, status)

    RULE_KEYS = {"id", "difference", "reason", "drop_proxy_key"}
    ENTRY_KEYS = {"difference", "reason", "expect", "then", "carry"}
    EXPECT_KEYS = {"status", "reason", "error", "proxies", "text", "body", "set", "request_id",
                   "listening"}
    THEN_KEYS = {"method", "path", "body", "raw", "status"}
    CARRY_KEYS = {"proxy", "toxic", "set", "remove", "through"}

    def known_keys(self, name, what, obj, known):
        """A misspelt key would silently declare nothing: refuse it."""
        for key in sorted(set(obj) - known):
            self.problems.append((name, "differences " + what, "one of " + ", ".join(sorted(known)),
                                  key))

    @staticmethod
    def numbers(entry):
        d = entry.get("difference")
        return "#" + ",#".join(str(x) for x in (d if isinstance(d, list) else [d]))

    # -- building the expected answer -------------------------------------------------------

    def layers(self, step):
        name = step["name"]
        out = []
        entry = self.entries.get(name)
        if entry is not None and "expect" in entry:
            out.append(Layer("step", "%s %s" % (self.numbers(entry), entry.get("reason", "")),
                             lambda ans, e=entry["expect"]: self.apply_expect(step, ans, e)))
        if "probe" in step:
            return out
        for rule in self.rules:
            if "drop_proxy_key" in rule:
                out.append(Layer("rule", rule.get("id", "?"),
                                 lambda ans, k=rule["drop_proxy_key"]: self.drop_key(ans, k)))
        i = self.index[name]
        for lo, hi, label, c in self.carries:
            if lo <= i <= hi:
                out.append(Layer("carry", label,
                                 lambda ans, c=c: self.apply_carry(step, ans, c)))
        return out

    def expected(self, step, original, layers):
        ans = json.loads(json.dumps(original))
        for layer in layers:
            ans = layer.apply(ans)
        return ans

    def apply_expect(self, step, ans, e):
        if "probe" in step:
            return dict(ans, **{k: v for k, v in e.items() if k == "listening"})
        ans = dict(ans)
        # The fixture's answer was JSON success: its headers are a success answer's.
        ok_headers = ans["status"] < 400 and ans.get("body", "")[:1] in ("{", "[")
        if "status" in e:
            ans["status"] = e["status"]
            ans["reason"] = e.get("reason", GO_STATUS_TEXT.get(e["status"]))
        if "error" in e:
            status = e["status"]
            if step["path"].startswith("/populate"):
                body = go_json({"error": e["error"], "status": status,
                                "proxies": e.get("proxies")})
                hdrs = [["Content-Type", "application/json"]]
            else:
                body = go_json({"error": e["error"], "status": status}) + "\n"
                hdrs = [["Content-Type", "text/plain; charset=utf-8"],
                        ["X-Content-Type-Options", "nosniff"]]
            ans["headers"] = hdrs + [["X-Toxiproxy-Request-Id", "(any)"]]
            ans["body"] = body
        elif "text" in e:
            ans["headers"] = [["Content-Type", "text/plain; charset=utf-8"],
                              ["X-Content-Type-Options", "nosniff"],
                              ["X-Toxiproxy-Request-Id", "(any)"]]
            ans["body"] = e["text"]
        elif "body" in e:
            if not ok_headers:
                ans["headers"] = [["Content-Type", "application/json"],
                                  ["X-Toxiproxy-Request-Id", "(any)"]]
            ans["body"] = go_json(e["body"])
        if "set" in e:
            ans = self.edit_body(ans, lambda v: [set_path(v, p, x) for p, x in e["set"].items()])
        if e.get("request_id") is False:
            ans["headers"] = [h for h in ans["headers"]
                              if h[0].lower() != "x-toxiproxy-request-id"]
        return ans

    @staticmethod
    def edit_body(ans, edit):
        body = ans.get("body", "")
        try:
            value = json.loads(body)
        except ValueError:
            return ans
        newline = "\n" if body.endswith("\n") else ""
        if go_json(value) + newline != body:
            # Not Go's compact form (/version): leave it to a full "body" declaration.
            return ans
        edit(value)
        return dict(ans, body=go_json(value) + newline)

    def drop_key(self, ans, key):
        def visit(v):
            if isinstance(v, dict):
                if is_proxy_object(v) and key in v:
                    del v[key]
                for x in v.values():
                    visit(x)
            elif isinstance(v, list):
                for x in v:
                    visit(x)
        return self.edit_body(ans, visit)

    def apply_carry(self, step, ans, c):
        def target(v, proxy):
            return (is_toxic_object(v) and "toxic" in c and proxy == c["proxy"]
                    and v["name"] == c["toxic"])

        def visit(v, proxy):
            if isinstance(v, dict):
                if is_proxy_object(v):
                    proxy = v["name"]
                    if "toxic" not in c and proxy == c["proxy"]:
                        for k, x in c.get("set", {}).items():
                            set_path(v, k, x)
                if target(v, proxy):
                    for k, x in c.get("set", {}).items():
                        set_path(v, k, x)
                for x in list(v.values()):
                    visit(x, proxy)
            elif isinstance(v, list):
                if c.get("remove"):
                    v[:] = [x for x in v if not target(x, proxy)]
                for x in v:
                    visit(x, proxy)
        return self.edit_body(ans, lambda v: visit(v, path_proxy(step["path"])))

    # -- checking ----------------------------------------------------------------------------

    def check(self, step, original, got):
        """Mismatches (field, expected, got) of got against the declared answer."""
        name = step["name"]
        layers = self.layers(step)
        if not layers:
            return compare_answer(step, original, got)
        declared = self.expected(step, original, layers)
        out = []
        effective = []
        for i, layer in enumerate(layers):
            without = self.expected(step, original, layers[:i] + layers[i + 1:])
            if without == declared:
                if layer.kind == "step":
                    out.append(("declared", layer.label, "declared difference changes nothing"))
                continue
            effective.append((layer, without))
        for layer, _ in effective:
            if layer.kind == "step":
                self.used.setdefault(name, []).append(layer.label)
            elif layer.kind == "rule":
                self.rule_uses[layer.label] = self.rule_uses.get(layer.label, 0) + 1
            else:
                self.carry_uses[layer.label] = self.carry_uses.get(layer.label, 0) + 1
        mismatches = compare_answer(step, declared, got)
        if mismatches:
            # The smallest set of declarations without which the answer matches: those did not
            # occur (the server now answers there as Toxiproxy does).
            # (All layers: one may only show once another is gone, e.g. the rule dropping
            # Logger from the proxy a refused create would have answered.)
            for size in range(1, len(layers) + 1):
                stale = next((drop for drop in itertools.combinations(layers, size)
                              if not compare_answer(step, self.expected(
                                  step, original, [l for l in layers if l not in drop]), got)),
                             None)
                if stale:
                    mismatches = [("declared", "%s: %s" % (l.kind, l.label),
                                   "declared difference did not occur") for l in stale]
                    break
        return out + mismatches

    def after_step(self, step, got, send, fixture):
        """Sends the step's "then" requests, unless the step answered as the fixture."""
        entry = self.entries.get(step["name"])
        if not entry or not entry.get("then"):
            return
        original = fixture.get(step["name"])
        if original is not None and not compare_answer(step, original["response"], got):
            return
        for req in entry["then"]:
            s = {"name": step["name"] + ":then", "method": req["method"], "path": req["path"]}
            if "raw" in req:
                s["raw"] = req["raw"]
            elif "body" in req:
                s["body"] = req["body"]
            ans = send(s)
            self.then_sent.append((step["name"], req, ans.get("status", ans.get("failure"))))

    def then_mismatches(self):
        out = []
        for name, req, status in self.then_sent:
            if status != req.get("status"):
                out.append((name, "then %s %s status" % (req["method"], req["path"]),
                            req.get("status"), status))
        return out

    def unused(self):
        """Carries that changed no expected answer."""
        return [(STEPS[lo]["name"], "declared", "carry: " + label,
                 "declared difference changes nothing")
                for lo, hi, label, c in self.carries if label not in self.carry_uses]

    def report(self):
        for name in [s for s in self.index if s in self.used]:
            for label in self.used[name]:
                print("DIFFERENCE step=%s %s" % (name, label))
        for name, req, status in self.then_sent:
            print("THEN step=%s %s %s -> %s" % (name, req["method"], req["path"], status))
        for rid, n in sorted(self.rule_uses.items()):
            print("RULE %s applied in %d steps" % (rid, n))
        for label, n in sorted(self.carry_uses.items()):
            print("CARRY %s applied in %d steps" % (label, n))
        print("declared differences used: %d steps (%d then requests), %d rules, %d carries"
              % (len(self.used), len(self.then_sent), len(self.rule_uses),
                 len(self.carry_uses)))


# --------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------

def server_version(url):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=10)
    try:
        conn.request("GET", "/version")
        r = conn.getresponse()
        body = r.read().decode("utf-8", errors="replace")
        try:
            return json.loads(body).get("version")
        except (ValueError, AttributeError):
            return body.strip()
    finally:
        conn.close()


def parse_range(s):
    lo, hi = s.split("-")
    return int(lo), int(hi)


def cmd_record(args):
    version = server_version(args.url)
    answers = run_all(args.url, parse_range(args.ports))
    failed = [(s["name"], a["failure"]) for s, a in zip(STEPS, answers) if "failure" in a]
    if failed:
        for name, why in failed:
            print("no answer at step %s: %s" % (name, why), file=sys.stderr)
        return 1
    steps = []
    for step, ans in zip(STEPS, answers):
        entry = {"name": step["name"]}
        if "probe" in step:
            entry["probe"] = "{{%s}}" % step["probe"]
        else:
            _, shown = request_body(step)
            req = {"method": step["method"], "path": step["path"]}
            if step.get("headers"):
                req["headers"] = step["headers"]
            if "raw" in step:
                req["raw"] = shown
            elif shown is not None:
                req["body"] = shown
            entry["request"] = req
            if step.get("tolerate"):
                entry["tolerate"] = step["tolerate"]
        entry["response"] = ans
        steps.append(entry)
    doc = {
        "about": "Answers of the real Toxiproxy control API to the sequence in "
                 "Tests/clients/toxiproxy_api.py, recorded by its record mode "
                 "(scripts/record-toxiproxy-fixtures). Ports appear as placeholders.",
        "toxiproxy_version": version,
        "recorded_at": datetime.datetime.now(datetime.timezone.utc)
                                .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "placeholders": {
            "P1..P14": "free 127.0.0.1 ports used as listen addresses",
            "UP, UP2": "free 127.0.0.1 ports nobody listens on, used as upstreams",
            "BLOCKED": "a port held by a plain socket listener of the recorder",
            "EPHEMERAL": "a kernel-chosen port (listen 127.0.0.1:0)",
            "VERSION": "the version value of GET /version",
        },
        "steps": steps,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    statuses = sum(1 for s in steps if "probe" not in s)
    print("recorded %d steps (%d requests, %d probes) from Toxiproxy %s into %s"
          % (len(steps), statuses, len(steps) - statuses, version, args.out))
    return 0


def cmd_compare(args):
    with open(args.fixture) as f:
        doc = json.load(f)
    expected = {s["name"]: s for s in doc["steps"]}
    diffs = Differences(args.differences, STEPS) if args.differences else None
    after = None
    if diffs is not None:
        def after(step, got, send):
            diffs.after_step(step, got, send, expected)
    answers = run_all(args.url, parse_range(args.ports), after=after)
    mismatches = 0

    def mismatch(name, field, e, g):
        print("MISMATCH step=%s field=%s expected=%s got=%s" % (name, field, short(e), short(g)))

    for step, got in zip(STEPS, answers):
        exp = expected.get(step["name"])
        if exp is None:
            print("MISMATCH step=%s field=%s expected=%s got=%s"
                  % (step["name"], "fixture", "(step missing: re-record)", "-"))
            mismatches += 1
            continue
        if diffs is None:
            found = compare_answer(step, exp["response"], got)
        else:
            found = diffs.check(step, exp["response"], got)
        for field, e, g in found:
            mismatches += 1
            mismatch(step["name"], field, e, g)
    extra = set(expected) - {s["name"] for s in STEPS}
    for name in sorted(extra):
        mismatches += 1
        print("MISMATCH step=%s field=fixture expected=%s got=%s"
              % (name, "(in fixture)", "(not in the sequence: re-record)"))
    if diffs is not None:
        for name, field, e, g in diffs.problems + diffs.then_mismatches() + diffs.unused():
            mismatches += 1
            mismatch(name, field, e, g)
        diffs.report()
    print("%d steps, %d mismatches" % (len(STEPS), mismatches))
    return 1 if mismatches else 0


def main():
    check_steps()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("record", help="run the sequence and write the answers")
    r.add_argument("--url", required=True)
    r.add_argument("--out", required=True)
    c = sub.add_parser("compare", help="run the sequence and compare with a fixture")
    c.add_argument("--url", required=True)
    c.add_argument("--fixture", required=True)
    c.add_argument("--differences",
                   help="a JSON file of the server's declared differences from the fixture "
                        "(see 'Declared differences' in this script)")
    for p in (r, c):
        p.add_argument("--ports", default="24000-24199",
                       help="127.0.0.1 port range for the placeholders (default 24000-24199)")
    args = ap.parse_args()
    return cmd_record(args) if args.mode == "record" else cmd_compare(args)


if __name__ == "__main__":
    sys.exit(main())
