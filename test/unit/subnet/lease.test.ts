/** Lease keys and values byte for byte as flanneld writes and reads them. */
import { describe, expect, it } from 'vitest';
import {
  decodeLeaseAttrs,
  encodeLeaseAttrs,
  subnetFromKey,
  subnetKey,
  vxlanLeaseAttrs,
  vxlanPeerOf,
} from '../../../control/subnet/lease.js';
import { formatSubnet4, parseSubnet4 } from '../../../control/subnet/ip4.js';

describe('lease encoding', () => {
  it('writes the value flanneld writes (Documentation/reservations.md)', () => {
    expect(encodeLeaseAttrs(vxlanLeaseAttrs('192.168.64.3', 1, 'c6:d2:32:6f:8f:44'))).toBe(
      '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
    );
    // Flannel's udp backend sets only PublicIP; omitempty drops the rest.
    expect(encodeLeaseAttrs({ publicIp: '10.0.0.1', publicIpv6: null, backendType: '', backendData: undefined })).toBe(
      '{"PublicIP":"10.0.0.1","PublicIPv6":null}',
    );
  });

  it("names keys like MakeSubnetKey and parses Flannel's dual-stack keys by their IPv4 part", () => {
    expect(subnetKey(parseSubnet4('10.5.72.0/24')!)).toBe('10.5.72.0-24');
    expect(formatSubnet4(subnetFromKey('/coreos.com/network/subnets/10.5.72.0-24')!)).toBe('10.5.72.0/24');
    expect(formatSubnet4(subnetFromKey('/coreos.com/network/subnets/10.5.72.0-24&fc00::-64')!)).toBe('10.5.72.0/24');
    expect(subnetFromKey('/coreos.com/network/subnets/garbage')).toBeNull();
    expect(subnetFromKey('/coreos.com/network/subnets/10.5.72.1-24')).toBeNull();
  });

  it('turns a vxlan lease into a peer and says why others are skipped', () => {
    const v = (s: string) => vxlanPeerOf(decodeLeaseAttrs(s)!, 1);
    expect(
      v('{"PublicIP":"1.2.3.4","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"C6:D2:32:6F:8F:44"}}'),
    ).toEqual({ vtepMac: 'c6:d2:32:6f:8f:44' });
    expect(v('{"PublicIP":"1.2.3.4","BackendType":"host-gw"}')).toEqual({ skip: 'backend "host-gw" is not vxlan' });
    expect(v('{"PublicIP":"1.2.3.4"}')).toEqual({ skip: 'backend "udp" is not vxlan' });
    expect(v('{"PublicIP":"1.2.3.4","BackendType":"vxlan","BackendData":{"VNI":2,"VtepMAC":"c6:d2:32:6f:8f:44"}}')).toEqual({
      skip: 'VNI 2 differs from ours (1)',
    });
    expect(decodeLeaseAttrs('not json')).toBeNull();
    expect(decodeLeaseAttrs('{"BackendType":"vxlan"}')).toBeNull();
  });
});
