#!/usr/bin/env bash
# A long fat network between two network namespaces, for a kernel without netem.
#
#   scripts/wan/wan.sh up [--delay-ms 25] [--rate-mbit 0] [--loss 0] [--queue-kib N] [--mtu 9000]
#   scripts/wan/wan.sh down
#   scripts/wan/wan.sh stats          # the relay's counters (forwarded, dropped) on its log
#
# `up` builds scripts/wan/tunrelay.c (cc), creates namespaces xfer-wan-a (10.77.0.1) and
# xfer-wan-b (10.77.0.2) joined by the relay: the delay is one way (25 ms each way = 50 ms
# RTT), rate 0 is unlimited, loss is a percentage per packet. Run programs on either side
# with `ip netns exec xfer-wan-a …`. Needs root and /dev/net/tun. The relay's pid and log
# are in /run/xfer-wan/. WAN_NAME=NAME (default xfer-wan) names the namespaces NAME-a and
# NAME-b and the state /run/NAME, so that two runs (two test suites) do not meet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${WAN_NAME:-xfer-wan}
state=/run/$name
a=$name-a
b=$name-b

down() {
    if [ -f "$state/relay.pid" ]; then
        kill "$(cat "$state/relay.pid")" 2>/dev/null || true
        # Its exit statistics go to the log; wait so the devices are gone before the namespaces.
        while kill -0 "$(cat "$state/relay.pid")" 2>/dev/null; do sleep 0.05; done
        rm -f "$state/relay.pid"
    fi
    ip netns del "$a" 2>/dev/null || true
    ip netns del "$b" 2>/dev/null || true
}

case "${1:-}" in
up)
    shift
    delay=25 rate=0 loss=0 queue="" mtu=9000
    while [ $# -gt 0 ]; do
        case "$1" in
        --delay-ms) delay=$2; shift 2 ;;
        --rate-mbit) rate=$2; shift 2 ;;
        --loss) loss=$2; shift 2 ;;
        --queue-kib) queue=$2; shift 2 ;;
        --mtu) mtu=$2; shift 2 ;;
        *) echo "wan.sh: unknown option $1" >&2; exit 64 ;;
        esac
    done
    down
    mkdir -p "$state"
    compiler=$(command -v cc || command -v clang)
    "$compiler" -O2 -Wall -o "$state/tunrelay" "$here/tunrelay.c"
    ip netns add "$a"
    ip netns add "$b"
    # The relay creates wan0 in each namespace, then prints "ready"; it runs until `down`.
    fifo="$state/ready"
    rm -f "$fifo"
    mkfifo "$fifo"
    "$state/tunrelay" "$a" "$b" "$delay" "$rate" "$loss" $queue >"$fifo" 2>"$state/relay.log" &
    echo $! >"$state/relay.pid"
    if ! read -r line <"$fifo"; then
        echo "wan.sh: the relay did not start: $(cat "$state/relay.log")" >&2
        down
        exit 1
    fi
    rm -f "$fifo"
    for side in a b; do
        ns=$name-$side
        if [ $side = a ]; then mine=10.77.0.1 peer=10.77.0.2; else mine=10.77.0.2 peer=10.77.0.1; fi
        ip -n "$ns" link set lo up
        ip -n "$ns" link set wan0 mtu "$mtu" up
        ip -n "$ns" addr add "$mine" peer "$peer" dev wan0
        # Queueing happens in the relay, as on a real bottleneck; the device's own queue
        # only has to cover a burst.
        ip -n "$ns" link set wan0 txqueuelen 10000
    done
    echo "wan: $a 10.77.0.1 <-> $b 10.77.0.2, $line"
    ;;
down)
    down
    ;;
stats)
    kill -USR1 "$(cat "$state/relay.pid")"
    # The relay writes the counters when it next wakes (at most 1 s later).
    for _ in $(seq 1 40); do
        if grep -q forwarded "$state/relay.log"; then break; fi
        sleep 0.05
    done
    tail -2 "$state/relay.log"
    ;;
*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 64
    ;;
esac
