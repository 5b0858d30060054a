#!/usr/bin/env bash
# Runs the README's TLS-tunnel recipe (socat with OpenSSL) end to end on loopback:
#   scripts/tunnel-check.sh [XFER_BINARY]
# A receiver with a key behind `socat OPENSSL-LISTEN`, a local `socat` port into the tunnel
# on the sending side, a file sent through it with the key (must arrive, exit 0) and without
# (must fail, exit 77). Prints one line per check; exits non-zero on the first failure.
set -euo pipefail
xfer=$(readlink -f "${1:-$(dirname "$0")/../.build/debug/xfer}")
work=$(mktemp -d /tmp/xfer-tunnel-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_listen() { for _ in $(seq 200); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.025; done; return 1; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.crt -subj /CN=localhost -days 1 \
  </dev/null >/dev/null 2>&1
"$xfer" keygen xfer.key 2>/dev/null
mkdir inbox
"$xfer" receive --dir inbox --listen 127.0.0.1:0 --key xfer.key </dev/null >/dev/null 2>receiver.log &
pids+=($!)
for _ in $(seq 200); do grep -q "listening on" receiver.log && break; sleep 0.025; done
receiver_port=$(grep -o 'listening on .*' receiver.log | grep -o '[0-9]*$')
tls_port=$(free_port)
local_port=$(free_port)
# Receiving machine: TLS in, plain TCP to the receiver on loopback.
socat "OPENSSL-LISTEN:$tls_port,reuseaddr,fork,cert=tls.crt,key=tls.key,verify=0" "TCP:127.0.0.1:$receiver_port" \
  </dev/null >/dev/null 2>socat-server.log &
pids+=($!)
# Sending machine: a local port into the tunnel, checking the receiver's certificate.
socat "TCP-LISTEN:$local_port,bind=127.0.0.1,reuseaddr,fork" \
  "OPENSSL:127.0.0.1:$tls_port,cafile=tls.crt,commonname=localhost" </dev/null >/dev/null 2>socat-client.log &
pids+=($!)
wait_listen "$tls_port" && wait_listen "$local_port" || { echo "FAIL: socat did not listen"; exit 1; }
head -c 4194304 /dev/urandom > through.bin
status=0
timeout 60 "$xfer" send --key xfer.key through.bin "127.0.0.1:$local_port" </dev/null >/dev/null 2>send.log || status=$?
[ "$status" = 0 ] || { echo "FAIL: send through the tunnel exited $status: $(cat send.log)"; exit 1; }
cmp -s through.bin inbox/through.bin || { echo "FAIL: the file that arrived differs"; exit 1; }
echo "ok: 4 MiB through socat TLS with the key, exit 0, bytes identical"
status=0
timeout 60 "$xfer" send --name nokey.bin - "127.0.0.1:$local_port" </dev/null >/dev/null 2>nokey.log || status=$?
[ "$status" = 77 ] || { echo "FAIL: a sender without the key exited $status"; exit 1; }
[ ! -e inbox/nokey.bin ] || { echo "FAIL: a sender without the key wrote"; exit 1; }
echo "ok: without the key, exit 77 and nothing written"
