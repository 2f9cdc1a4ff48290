#!/usr/bin/env bash
# The kernel probes behind native-notes/super-packets.md, on two scratch namespaces joined by a veth pair
# (198.18.X.1 / .2, X random). Needs root, python3, gcc, iproute2, ethtool. Everything it starts runs inside
# the namespaces; on exit (also Ctrl-C or a failure) it deletes them and its build directory, nothing else.
#   bash native-notes/probes/run.sh            # all probes, ~40 s
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ "$(id -u)" -eq 0 ] || { echo "run.sh creates network namespaces: run it as root" >&2; exit 1; }
p="vxp$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')"
x=$(( $(od -An -N1 -tu1 /dev/urandom) ))
a="198.18.$x.1"; b="198.18.$x.2"
work="$(mktemp -d)"
cleanup() { ip netns del "${p}a" 2>/dev/null || true; ip netns del "${p}b" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
inA() { ip netns exec "${p}a" "$@"; }
inB() { ip netns exec "${p}b" "$@"; }

gcc -O2 -o "$work/tap_write" "$here/tap_write.c"
gcc -O2 -o "$work/zerocopy_send" "$here/zerocopy_send.c"
gcc -O2 -o "$work/sink" "$here/sink.c"
ip netns add "${p}a"; ip netns add "${p}b"
ip link add "${p}a0" netns "${p}a" type veth peer name "${p}b0" netns "${p}b"
inA ip addr add "$a/24" dev "${p}a0"; inB ip addr add "$b/24" dev "${p}b0"
for h in a b; do ip -n "${p}$h" link set lo up; ip -n "${p}$h" link set "${p}${h}0" up; done
inA ip neigh replace "$b" lladdr "$(inB cat /sys/class/net/${p}b0/address)" dev "${p}a0" nud permanent
tnl() { inA ethtool -K "${p}a0" tx-udp_tnl-segmentation "$1" tx-udp_tnl-csum-segmentation "$1" >/dev/null; }
gso() { DEV="${p}t" SRC="$a" DST="$b" inA python3 "$here/tunnel_gso.py" "$@"; }
echo "kernel $(uname -r); load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 1. one tunnel super-packet written into a TUN (IP first) and a TAP (Ethernet first), b decapsulates"
inB ip link add vx0 address 02:42:0a:f4:02:00 type vxlan id 1 local "$b" dev "${p}b0" dstport 8472 nolearning
inB ip addr add 10.244.2.0/32 dev vx0; inB ip link set vx0 up; inB ip route add 10.244.1.0/24 dev vx0
for mode in tun tap; do
  inB python3 "$here/receive.py" inner 10.244.2.0 2 & r=$!; sleep 0.4
  gso "$mode" udp 40 1400; wait "$r"
done
echo "== 2. the same, segmented in software on a's veth (tx-udp_tnl-segmentation off), inner TCP with outer checksum"
tnl off
before=$(inB cat "/sys/class/net/${p}b0/statistics/rx_packets")
gso tap tcp 46 1398 --outer-csum; sleep 0.5
echo "datagrams that reached b's veth: $(( $(inB cat "/sys/class/net/${p}b0/statistics/rx_packets") - before ))"
inB ip link del vx0
echo "== 3. what a plain UDP socket on b (vxtun's receiver) gets from it"
for t in on off; do
  tnl "$t"
  for kind in outer outer-gro; do
    echo -n "a tx-udp_tnl-segmentation $t: "
    inB python3 "$here/receive.py" "$kind" "$b" 2 & r=$!; sleep 0.4
    gso tap tcp 46 1398 --outer-csum >/dev/null; wait "$r"
  done
done
echo "== 4. CPU per 64 KB: TAP tunnel-GSO write vs UDP_SEGMENT sendmsg vs the same with MSG_ZEROCOPY (3 s each)"
inB ethtool -K "${p}b0" gro on rx-udp-gro-forwarding on >/dev/null
gso tap tcp 46 1398 --outer-csum --dump "$work/frame.bin" >/dev/null
for round in 1 2; do
  for t in on off; do
    tnl "$t"; echo -n "a tx-udp_tnl-segmentation $t: "
    inB "$work/sink" "$b" 8472 >/dev/null & s=$!; sleep 0.3
    inA "$work/tap_write" "$work/frame.bin" "${p}w" 3; wait "$s"
  done
  for zc in 0 1; do
    inB "$work/sink" "$b" 9999 >/dev/null & s=$!; sleep 0.3
    inA "$work/zerocopy_send" "$b" 9999 "$zc" 3; wait "$s"
  done
done
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
