#!/usr/bin/env python3
"""Builds one VXLAN-encapsulated GSO super-packet and writes it into a TAP (or TUN) opened with the 24-byte
virtio header (virtio_net_hdr_v1_hash_tunnel) and gso_type VIRTIO_NET_HDR_GSO_UDP_TUNNEL_IPV4 | inner type
(Linux 6.17+, drivers/net/tun.c tun_get_user -> virtio_net_hdr_tnl_to_skb). Run only inside a scratch network
namespace (run.sh does): it enables forwarding there. With --dump FILE it writes header + frame to FILE instead
of the device (tap_write.c replays it).

usage: tunnel_gso.py tap|tun tcp|udp SEGMENTS SEGMENT_SIZE [--outer-csum] [--dump FILE]
environment: DEV (device name), SRC, DST (outer IPv4 addresses)
"""
import fcntl, os, socket, struct, subprocess, sys

# `ip netns identify` names the namespace this process is in; empty outside the named (scratch) ones.
if subprocess.run(['ip', 'netns', 'identify', str(os.getpid())], capture_output=True, text=True).stdout.strip() == '':
    sys.exit('refusing to run outside a named network namespace: run it through run.sh')
mode, inner, nseg, seg = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
outer_csum = '--outer-csum' in sys.argv
dump = sys.argv[sys.argv.index('--dump') + 1] if '--dump' in sys.argv else None
dev, src, dst = os.environ['DEV'], os.environ['SRC'], os.environ['DST']

TUNSETIFF, TUNSETOFFLOAD, TUNSETVNETHDRSZ = 0x400454ca, 0x400454d0, 0x400454d8
IFF_TUN, IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x1, 0x2, 0x1000, 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_USO4, TUN_F_USO6 = 0x1, 0x2, 0x4, 0x20, 0x40
TUN_F_UDP_TUNNEL_GSO, TUN_F_UDP_TUNNEL_GSO_CSUM = 0x80, 0x100
NEEDS_CSUM, UDP_TUNNEL_CSUM = 1, 8
GSO_TCPV4, GSO_UDP_L4, GSO_UDP_TUNNEL_IPV4 = 1, 5, 0x20

fd = os.open('/dev/net/tun', os.O_RDWR)
flags = (IFF_TAP if mode == 'tap' else IFF_TUN) | IFF_NO_PI | IFF_VNET_HDR
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', dev.encode(), flags))
# The header size is what tells tun_get_user to parse the tunnel fields (tun_vnet_hdr_guest_features).
fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack('i', 24))
try:
    fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6 |
                TUN_F_UDP_TUNNEL_GSO | TUN_F_UDP_TUNNEL_GSO_CSUM)
    print('TUNSETOFFLOAD with TUN_F_UDP_TUNNEL_GSO | TUN_F_UDP_TUNNEL_GSO_CSUM: accepted')
except OSError as err:
    print('TUNSETOFFLOAD with the tunnel bits refused:', err)
# The outer source is this host's own address: accept_local, and forwarding on the device it arrives on.
os.system(f'ip link set {dev} up && sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.{dev}.accept_local=1 '
          f'net.ipv4.conf.{dev}.rp_filter=0 net.ipv4.conf.all.rp_filter=0')
mac = bytes.fromhex(open(f'/sys/class/net/{dev}/address').read().strip().replace(':', '')) if mode == 'tap' else b''


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def ipv4(s, d, proto, payload_len, ident):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + payload_len, ident, 0x4000, 64, proto, 0,
                    socket.inet_aton(s), socket.inet_aton(d))
    return h[:10] + struct.pack('!H', ~csum(h) & 0xffff) + h[12:]


def pseudo(s, d, proto, length):
    return csum(socket.inet_aton(s) + socket.inet_aton(d) + struct.pack('!BBH', 0, proto, length))


payload = bytes((i * 7 + 3) & 0xff for i in range(nseg * seg))
isrc, idst = '10.244.1.0', '10.244.2.0'
if inner == 'udp':
    l4len = 8 + len(payload)
    l4 = struct.pack('!HHHH', 40000, 5555, l4len, pseudo(isrc, idst, 17, l4len))
    iproto, gso_inner, csum_off = 17, GSO_UDP_L4, 6
else:
    l4len = 20 + len(payload)
    l4 = struct.pack('!HHIIBBHHH', 40000, 5556, 1000, 0, 0x50, 0x18, 65535, pseudo(isrc, idst, 6, l4len), 0)
    iproto, gso_inner, csum_off = 6, GSO_TCPV4, 16
inner_frame = (bytes.fromhex('02420af40200') + bytes.fromhex('02420af40100') + b'\x08\x00' +
               ipv4(isrc, idst, iproto, l4len, 1) + l4 + payload)
vxlan = struct.pack('!BBBBI', 0x08, 0, 0, 0, 1 << 8)
udp_len = 8 + len(vxlan) + len(inner_frame)
# With the outer checksum offloaded, the field holds the pseudo-header sum over the whole length, as
# udp_set_csum leaves it for a GSO packet; __skb_udp_tunnel_segment adjusts it per segment.
udp = struct.pack('!HHHH', 50000, 8472, udp_len, pseudo(src, dst, 17, udp_len) if outer_csum else 0)
l2 = (mac + bytes.fromhex('020000000001') + b'\x08\x00') if mode == 'tap' else b''
frame = l2 + ipv4(src, dst, 17, udp_len, 7) + udp + vxlan + inner_frame
outer_th = len(l2) + 20
inner_nh = outer_th + 8 + 8 + 14
inner_th = inner_nh + 20
hdr = struct.pack('<BBHHHHHIHHHH', NEEDS_CSUM | (UDP_TUNNEL_CSUM if outer_csum else 0), GSO_UDP_TUNNEL_IPV4 | gso_inner,
                  inner_th + (8 if inner == 'udp' else 20), seg, inner_th, csum_off, 0, 0, 0, 0, outer_th, inner_nh)
print(f'{mode}: {len(frame)}-byte frame, inner {inner} {nseg} x {seg} B, outer_th_offset {outer_th}, '
      f'inner_nh_offset {inner_nh}, csum_start {inner_th}')
if dump:
    with open(dump, 'wb') as f:
        f.write(hdr + frame)
    sys.exit(0)
try:
    print('write accepted:', os.write(fd, hdr + frame), 'bytes')
except OSError as err:
    print('write refused:', err)
