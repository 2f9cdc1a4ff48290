#!/usr/bin/env python3
"""Counts what a UDP socket receives for SECONDS: `inner` = the inner datagrams of tunnel_gso.py on 10.244.2.0:5555
(behind a kernel vxlan device), checked against the payload it sends; `outer` and `outer-gro` = the VXLAN datagrams
themselves on ADDR:8472, on a plain socket or one with UDP_GRO.

usage: receive.py inner|outer|outer-gro ADDR SECONDS
"""
import socket, struct, sys, time

kind, addr, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 5555 if kind == 'inner' else 8472))
s.settimeout(0.3)
if kind == 'outer-gro':
    s.setsockopt(socket.IPPROTO_UDP, 104, 1)  # UDP_GRO
messages, data, end = [], b'', time.time() + secs
while time.time() < end:
    try:
        d, anc, _, _ = s.recvmsg(70000, 64)
    except socket.timeout:
        continue
    gro = [struct.unpack('i', c[2][:4])[0] for c in anc if c[0] == socket.IPPROTO_UDP and c[1] == 104]
    messages.append((len(d), gro[0] if gro else None))
    data += d
sizes = sorted({m[0] for m in messages})
line = f'{kind}: {len(messages)} messages, {len(data)} bytes, sizes {sizes[:4]}, UDP_GRO cmsg {messages[0][1] if messages else None}'
if kind == 'inner' and data:
    expected = bytes((i * 7 + 3) & 0xff for i in range(len(data)))
    line += ', payload ' + ('matches' if data == expected else 'DIFFERS')
print(line)
