#!/usr/bin/env python3
# Writes hostile frames into a TUN device the way a local program can: an AF_PACKET socket bound to the device
# with PACKET_VNET_HDR, so each frame carries a virtio-net header of our choosing. Prints
# {"kind": frames the kernel accepted, ...}; a frame the kernel refuses itself (sendto fails) is not counted.
# Usage: tun-inject.py <dev> <src-ip> <dst-ip> <rounds>
import json, socket, struct, sys, time

dev, src, dst, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ETH_P_IP, SOL_PACKET, PACKET_VNET_HDR = 0x0800, 263, 15
NEEDS_CSUM, GSO_NONE, GSO_TCPV4 = 1, 0, 1


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s > 0xffff:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(payload_len, proto=6, total=None, version=4):
    h = struct.pack('!BBHHHBBH4s4s', (version << 4) | 5, 0, total if total is not None else 20 + payload_len, 1, 0x4000, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:]


def tcp(payload):
    return struct.pack('!HHIIBBHHH', 40000, 5201, 1, 1, 5 << 4, 0x18, 65535, 0, 0) + payload


def vnet(flags=0, gso=GSO_NONE, hdr_len=0, gso_size=0, start=0, offset=0):
    return struct.pack('=BBHHHH', flags, gso, hdr_len, gso_size, start, offset)


big = tcp(b'x' * 1400)
frames = {
    # Not IP at all, or an IPv4 header whose lengths do not fit the bytes: vxtun counts badInner.
    'badVersion': vnet() + ipv4(40, total=60, version=7) + b'\0' * 40,
    'lengthMismatch': vnet() + ipv4(40, total=1400) + b'\0' * 40,
    # TCP super-packets whose GSO fields cannot describe them: vxtun counts malformedGso.
    'gsoSizeOne': vnet(NEEDS_CSUM, GSO_TCPV4, 40, 1, 20, 16) + ipv4(len(big)) + big,
}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
s.bind((dev, ETH_P_IP))
counts = {k: 0 for k in frames}
for r in range(rounds):
    if r % 16 == 15:
        time.sleep(0.001)  # a local program's pace, not a flood of the TUN's queue
    for k, f in frames.items():
        try:
            s.sendto(f, (dev, ETH_P_IP))
            counts[k] += 1
        except OSError:
            pass
print(json.dumps(counts))
