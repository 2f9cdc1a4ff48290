/**
 * Offload profiles for the underlay veth pair. veth defaults (Linux 6.x): checksum, SG, TSO, GSO,
 * tx-udp-segmentation on; GRO, rx-gro-list and rx-udp-gro-forwarding off. A real NIC receives with GRO on, and
 * veth coalesces UDP (VXLAN) datagrams only with rx-udp-gro-forwarding on, so the `nic` profile turns those on.
 */
export type OffloadProfile = 'default' | 'off' | 'nic';

export const OFFLOAD_PROFILES: readonly OffloadProfile[] = ['default', 'nic', 'off'];

/** `ethtool -K <dev> …` arguments for a profile; empty for `default` (leave the veth as the kernel made it). */
export function offloadSettings(profile: OffloadProfile): string[] {
  switch (profile) {
    case 'default':
      return [];
    case 'nic':
      return ['gro', 'on', 'tx-udp-segmentation', 'on', 'rx-udp-gro-forwarding', 'on'];
    case 'off':
      return ['tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off'];
  }
}

/** The features a reader of the results needs to judge a run; the full `ethtool -k` list is kept in the JSON. */
export const REPORTED_FEATURES = [
  'tx-checksumming',
  'scatter-gather',
  'tcp-segmentation-offload',
  'generic-segmentation-offload',
  'generic-receive-offload',
  'tx-udp-segmentation',
  'tx-udp_tnl-segmentation',
  'rx-udp-gro-forwarding',
  'rx-gro-list',
] as const;

/** Parses `ethtool -k` output into feature → "on" | "off" (the "[fixed]" marker is dropped). */
export function parseEthtoolFeatures(text: string): Record<string, string> {
  const features: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([\w-]+):\s+(on|off)\b/.exec(line);
    if (match !== null) features[match[1]] = match[2];
  }
  return features;
}
