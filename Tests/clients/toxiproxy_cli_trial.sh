#!/usr/bin/env bash
# Drives a Toxiproxy-compatible control API with the real Go client, toxiproxy-cli 2.12.0, through
# every subcommand it has (list/l/li/ls, inspect/i/ins, create/c/new, toggle/tog, delete/d,
# toxic add/a, toxic update/u, toxic remove/r/delete/d, help, --version) and checks each one's
# output and exit status; between the steps it checks through the proxy what the command did to the
# data path (an echo server it starts on UPSTREAM, a round trip measured with python3).
#
# Usage: toxiproxy_cli_trial.sh API_HOST:PORT LISTEN_PORT UPSTREAM_HOST:PORT
#   TOXIPROXY_CLI  the toxiproxy-cli binary (default: ../shared/peers/toxiproxy-cli beside the repo)
# Prints one line per step, `ok: ...` or `FAIL: ...`, and exits 1 when any step failed (the later
# steps still run). Output is not a TTY here, so the CLI prints its plain format: `list` lines are
# NAME<TAB>LISTEN<TAB>UPSTREAM<TAB>enabled|disabled<TAB>N_TOXICS, `inspect` lines are
# NAME<TAB>type=T<TAB>stream=S<TAB>toxicity=F<TAB>attributes=[<TAB>k=v...<TAB>] (sorted keys).
#
# Passed against the real Toxiproxy 2.12.0 with:
#   /work/shared/peers/toxiproxy-server -host 127.0.0.1 -port 24240 &   # stopped afterwards by its PID
#   bash Tests/clients/toxiproxy_cli_trial.sh 127.0.0.1:24240 24241 127.0.0.1:24243
#
# What the CLI sends (Go client, captured on the wire): every request has
# `User-Agent: toxiproxy-cli/2.12.0 (linux/amd64)` and `Content-Type: application/json`, one
# keep-alive connection per run. list: GET /proxies. inspect: GET /proxies/N. create: POST /proxies
# {"name","listen","upstream","enabled":true,"toxics":null}. toggle: GET /proxies/N, then POST
# /proxies/N with the whole proxy, "enabled" flipped and "toxics":[...] included. delete: GET then
# DELETE /proxies/N. toxic add: GET /proxies/N, POST /proxies/N/toxics {"name" ("" without -n),
# "type","stream","toxicity","attributes"}. toxic update: GET, then PATCH /proxies/N/toxics/T
# {"attributes":{...},"toxicity":F}. toxic remove: GET, then DELETE /proxies/N/toxics/T.
# Errors are shown as `HTTP <status>: <error>` from the JSON body {"error":"...","status":N}.
set -u

if [ $# -ne 3 ]; then
    echo "usage: $0 API_HOST:PORT LISTEN_PORT UPSTREAM_HOST:PORT" >&2
    exit 2
fi
API=$1
LISTEN_PORT=$2
UPSTREAM=$3
HERE=$(cd "$(dirname "$0")" && pwd)
CLI=${TOXIPROXY_CLI:-$HERE/../../../shared/peers/toxiproxy-cli}
LISTEN=127.0.0.1:$LISTEN_PORT
NAME=tp_cli_trial
NAME2=tp_cli_trial_alias
LATENCY=300
SLACK=700
CLEAN=100

if [ ! -x "$CLI" ]; then
    echo "FAIL: toxiproxy-cli not found at $CLI (set TOXIPROXY_CLI)"
    exit 1
fi

passes=0
failures=0
ok() { passes=$((passes + 1)); echo "ok: $*"; }
fail() { failures=$((failures + 1)); echo "FAIL: $*"; }

OUT=""
RC=0
# cli ARGS...: runs toxiproxy-cli against the API; stdout+stderr in $OUT, exit status in $RC.
cli() {
    OUT=$("$CLI" -h "$API" "$@" 2>&1)
    RC=$?
}
# The output on one line (tabs as spaces, newlines as |), at most 400 characters.
oneline() { printf '%s' "$1" | tr '\t\n' ' |' | cut -c1-400; }
# expect DESCRIPTION RC PATTERN...: the last cli run exited RC and its output matches every
# extended regular expression PATTERN (a pattern starting with ! must NOT match).
expect() {
    local what=$1 want_rc=$2
    shift 2
    if [ "$RC" != "$want_rc" ]; then
        fail "$what: exit $RC (expected $want_rc); output: $(oneline "$OUT")"
        return 1
    fi
    local p
    for p in "$@"; do
        if [ "${p:0:1}" = "!" ]; then
            if printf '%s\n' "$OUT" | grep -Eq -- "${p:1}"; then
                fail "$what: output matches /${p:1}/: $(oneline "$OUT")"
                return 1
            fi
        elif ! printf '%s\n' "$OUT" | grep -Eq -- "$p"; then
            fail "$what: output lacks /$p/: $(oneline "$OUT")"
            return 1
        fi
    done
    ok "$what: $(oneline "$OUT")"
}

# The data path: an echo server on UPSTREAM (killed by its PID on exit) and a probe that prints the
# round trip in ms through 127.0.0.1:PORT, or `refused` / `error ...`.
UP_HOST=${UPSTREAM%:*}
UP_PORT=${UPSTREAM##*:}
python3 -u -c '
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(64); print("listening", flush=True)
def serve(c):
    with c:
        try:
            while True:
                d = c.recv(65536)
                if not d: return
                c.sendall(d)
        except OSError: return
while True:
    c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$UP_HOST" "$UP_PORT" > "${TMPDIR:-/tmp}/toxiproxy_cli_trial_echo.$$" 2>&1 &
ECHO_PID=$!
trap 'kill $ECHO_PID 2>/dev/null; rm -f "${TMPDIR:-/tmp}/toxiproxy_cli_trial_echo.$$"' EXIT
for _ in $(seq 50); do
    grep -q listening "${TMPDIR:-/tmp}/toxiproxy_cli_trial_echo.$$" 2>/dev/null && break
    sleep 0.1
done

probe() {
    python3 -c '
import errno, socket, sys, time
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
except ConnectionRefusedError:
    print("refused"); sys.exit()
except OSError as e:
    print("error", e); sys.exit()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"faultline-trial\n"; got = b""; t = time.monotonic(); s.sendall(msg)
try:
    while len(got) < len(msg):
        d = s.recv(65536)
        if not d: break
        got += d
except OSError as e:
    print("error", e); sys.exit()
print("%.1f" % ((time.monotonic() - t) * 1000) if got == msg else "error echo %r" % got)
' "$1"
}
# rtt_between WHAT LOW HIGH: a round trip through the proxy takes LOW <= ms < HIGH.
rtt_between() {
    local r
    r=$(probe "$LISTEN_PORT")
    if python3 -c 'import sys; v=float(sys.argv[1]); sys.exit(0 if float(sys.argv[2]) <= v < float(sys.argv[3]) else 1)' "$r" "$2" "$3" 2>/dev/null; then
        ok "$1: round trip $r ms (in [$2, $3))"
    else
        fail "$1: round trip $r (expected ms in [$2, $3))"
    fi
}
refused() {
    local r
    r=$(probe "$LISTEN_PORT")
    if [ "$r" = refused ]; then ok "$1: connect refused (ECONNREFUSED)"; else fail "$1: connect gave '$r', expected refused"; fi
}

r=$(probe "$UP_PORT")
case $r in
    refused|error*) fail "echo upstream on $UPSTREAM: $r" ;;
    *) ok "echo upstream on $UPSTREAM (direct round trip $r ms)" ;;
esac

cli --version
expect "--version" 0 "toxiproxy-cli version 2\.12\.0"
cli help
expect "help" 0 "list" "inspect" "create" "toggle" "delete" "toxic"

# A clean start: a proxy left by an earlier run goes.
for n in $NAME $NAME2; do
    cli inspect $n
    [ "$RC" = 0 ] && cli delete $n
done

cli list
expect "list (no trial proxy yet)" 0 "!^$NAME"$'\t'
cli inspect $NAME
expect "inspect of a missing proxy" 1 "HTTP 404: proxy not found"

cli create --listen "$LISTEN" --upstream "$UPSTREAM" $NAME
expect "create" 0 "^Created new proxy $NAME\$"
cli create -l "$LISTEN" -u "$UPSTREAM" $NAME
expect "create of an existing name" 1 "HTTP 409: proxy already exists"
cli create -l "$LISTEN" $NAME2
expect "create without --upstream" 1 "Required argument 'upstream' was empty"

cli list
expect "list" 0 "^$NAME"$'\t'"$LISTEN"$'\t'"$UPSTREAM"$'\t'"enabled"$'\t'"0\$"
for alias in l li ls; do
    cli $alias
    expect "list alias '$alias'" 0 "^$NAME"$'\t'"$LISTEN"$'\t'"$UPSTREAM"$'\t'"enabled"$'\t'"0\$"
done
cli inspect $NAME
expect "inspect (no toxics: prints nothing when not a TTY)" 0 "!."
rtt_between "no toxics" 0 $CLEAN

cli toxic add -t latency -n lat -a latency=$LATENCY -a jitter=5 $NAME
expect "toxic add latency" 0 "^Added downstream latency toxic 'lat' on proxy '$NAME'\$"
rtt_between "latency toxic $LATENCY ms, jitter 5 ms" $((LATENCY - 5)) $((LATENCY + SLACK))
cli toxic add -t bandwidth -u -a rate=100000 --tox 0.5 $NAME
expect "toxic add (no name, upstream, toxicity 0.5)" 0 "^Added upstream bandwidth toxic 'bandwidth_upstream' on proxy '$NAME'\$"
cli toxic a -t slow_close -n sc -a delay=10 $NAME
expect "toxic alias 'a' (slow_close)" 0 "^Added downstream slow_close toxic 'sc' on proxy '$NAME'\$"
cli toxic add -t latency -n lat -a latency=1 $NAME
expect "toxic add of an existing name" 1 "HTTP 409: toxic already exists"
cli toxic add -t no_such_type -n bogus $NAME
expect "toxic add of an unknown type" 1 "HTTP 400: invalid toxic type"
cli toxic add -t latency -n lat2 -a latency=1 no_such_proxy
expect "toxic add on a missing proxy" 1 "HTTP 404: proxy not found"

cli inspect $NAME
expect "inspect" 0 \
    "^lat"$'\t'"type=latency"$'\t'"stream=downstream"$'\t'"toxicity=1\.00"$'\t'"attributes=\["$'\t'"jitter=5"$'\t'"latency=$LATENCY"$'\t'"\]\$" \
    "^bandwidth_upstream"$'\t'"type=bandwidth"$'\t'"stream=upstream"$'\t'"toxicity=0\.50"$'\t'"attributes=\["$'\t'"rate=100000"$'\t'"\]\$" \
    "^sc"$'\t'"type=slow_close"$'\t'"stream=downstream"$'\t'"toxicity=1\.00"$'\t'"attributes=\["$'\t'"delay=10"$'\t'"\]\$"
for alias in i ins; do
    cli $alias $NAME
    expect "inspect alias '$alias'" 0 "^lat"$'\t'"type=latency"
done
cli list
expect "list shows 3 toxics" 0 "^$NAME"$'\t'"$LISTEN"$'\t'"$UPSTREAM"$'\t'"enabled"$'\t'"3\$"

cli toxic update -n lat -a latency=$((LATENCY + 50)) --tox 0.9 $NAME
expect "toxic update" 0 "^Updated toxic 'lat' on proxy '$NAME'\$"
cli inspect $NAME
expect "inspect after update (attributes merged)" 0 \
    "^lat"$'\t'"type=latency"$'\t'"stream=downstream"$'\t'"toxicity=0\.90"$'\t'"attributes=\["$'\t'"jitter=5"$'\t'"latency=$((LATENCY + 50))"$'\t'"\]\$"
cli toxic u -n lat -a latency=$LATENCY $NAME
expect "toxic alias 'u' (update, toxicity back to the default 1)" 0 "^Updated toxic 'lat' on proxy '$NAME'\$"
cli inspect $NAME
expect "inspect after the second update" 0 \
    "^lat"$'\t'"type=latency"$'\t'"stream=downstream"$'\t'"toxicity=1\.00"$'\t'"attributes=\["$'\t'"jitter=5"$'\t'"latency=$LATENCY"$'\t'"\]\$"
cli toxic update -n no_such_toxic -a latency=1 $NAME
expect "toxic update of a missing toxic" 1 "HTTP 404: toxic not found"

cli toggle $NAME
expect "toggle (disable)" 0 "^Proxy $NAME is now disabled\$"
refused "after toggle to disabled"
cli list
expect "list shows disabled" 0 "^$NAME"$'\t'"$LISTEN"$'\t'"$UPSTREAM"$'\t'"disabled"$'\t'"3\$"
cli tog $NAME
expect "toggle alias 'tog' (enable)" 0 "^Proxy $NAME is now enabled\$"
rtt_between "after toggle to enabled (toxics kept)" $((LATENCY - 5)) $((LATENCY + SLACK))
cli list
expect "list shows enabled again" 0 "^$NAME"$'\t'"$LISTEN"$'\t'"$UPSTREAM"$'\t'"enabled"$'\t'"3\$"
cli toggle no_such_proxy
expect "toggle of a missing proxy" 1 "HTTP 404: proxy not found"

cli toxic remove -n lat $NAME
expect "toxic remove" 0 "^Removed toxic 'lat' on proxy '$NAME'\$"
rtt_between "latency toxic removed" 0 $CLEAN
cli toxic remove -n lat $NAME
expect "toxic remove of a missing toxic" 1 "HTTP 404: toxic not found"
cli toxic r -n sc $NAME
expect "toxic alias 'r' (remove)" 0 "^Removed toxic 'sc' on proxy '$NAME'\$"
cli toxic delete -n bandwidth_upstream $NAME
expect "toxic alias 'delete' (remove)" 0 "^Removed toxic 'bandwidth_upstream' on proxy '$NAME'\$"
cli inspect $NAME
expect "inspect after removing every toxic" 0 "!."
cli list
expect "list shows 0 toxics" 0 "^$NAME"$'\t'"$LISTEN"$'\t'"$UPSTREAM"$'\t'"enabled"$'\t'"0\$"

LISTEN2=127.0.0.1:$((LISTEN_PORT + 1))
cli c -l "$LISTEN2" -u "$UPSTREAM" $NAME2
expect "create alias 'c'" 0 "^Created new proxy $NAME2\$"
cli t d -n nothing $NAME2
expect "toxic alias 't d' on a proxy without toxics" 1 "HTTP 404: toxic not found"
cli list
expect "list shows both, sorted by name" 0 "^$NAME"$'\t' "^$NAME2"$'\t'"$LISTEN2"$'\t'"$UPSTREAM"$'\t'"enabled"$'\t'"0\$"
cli d $NAME2
expect "delete alias 'd'" 0 "^Deleted proxy $NAME2\$"
cli new -l "$LISTEN2" -u "$UPSTREAM" $NAME2
expect "create alias 'new' (the same listen address again)" 0 "^Created new proxy $NAME2\$"
cli delete $NAME2
expect "delete" 0 "^Deleted proxy $NAME2\$"

cli delete $NAME
expect "delete" 0 "^Deleted proxy $NAME\$"
refused "after delete"
cli delete $NAME
expect "delete of a missing proxy" 1 "HTTP 404: proxy not found"
cli list
expect "list after delete" 0 "!^$NAME"

echo "summary: $passes ok, $failures failed"
[ "$failures" = 0 ]
