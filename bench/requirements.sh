#!/usr/bin/env bash
# Installs the Debian packages bench/run drives; does nothing when all are installed.
# Toxiproxy is not packaged by Debian: point TOXIPROXY_BIN at a toxiproxy-server to add it.
set -euo pipefail

packages=(haproxy socat iperf3 redis-server redis-tools wrk procps openssl nginx)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    echo "bench requirements present: ${packages[*]}"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
echo "installing: ${missing[*]}"
"${sudo[@]}" apt-get update
# noninteractive: iperf3's package asks whether to start a daemon; the answer must be "no".
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
