/**
 * Answers ARP requests for our IPv4 gateway address (<subnet>.0) and IPv6 Neighbor Solicitations for our IPv6
 * gateway (<ipv6 subnet>::) that arrive through the tunnel, so a kernel VXLAN peer that lost its permanent
 * neighbour entry still reaches us. Replies go back encapsulated to the sender.
 */
import { PacketBatch, type UdpBind } from './sys/types.js';
import type { LocalConfig } from './local.js';
import type { PeerEntry } from './routes.js';
import { DropReason } from './packet/drops.js';
import { counterIndex, dropIndex } from './stats.js';
import { parseArpRequest, writeArpReply, arpAsksFor } from './packet/arp.js';
import { parseNeighborSolicit, solicitAsksFor, writeNeighborAdvert } from './packet/ndp.js';
import { writeVxlan, VXLAN_HLEN } from './packet/vxlan.js';
import { ETH_HLEN, ETH_SRC } from './packet/ethernet.js';

const C_ARP = counterIndex('arpReplies');
const C_NDP = counterIndex('ndpReplies');
const D_ARP = dropIndex(DropReason.ARP_IGNORED);
const D_NDP = dropIndex(DropReason.NDP_IGNORED);

export class NeighborResponder {
  private readonly cfg: LocalConfig;
  private readonly stats: Float64Array;
  private readonly bind: UdpBind;
  private readonly replies: PacketBatch;
  /** The solicitation's Ethernet source, for a solicitation without a source link-layer address option. */
  private readonly frameSrc = new Uint8Array(6);

  constructor(cfg: LocalConfig, stats: Float64Array, bind: UdpBind) {
    this.cfg = cfg;
    this.stats = stats;
    this.bind = bind;
    this.replies = new PacketBatch(16, 128);
  }

  /** An ARP frame; eth/len: the inner Ethernet frame. */
  offerArp(buf: Buffer, eth: number, len: number, peer: PeerEntry): void {
    const gw = this.cfg.gateway4;
    const req = parseArpRequest(buf, eth + ETH_HLEN, len - ETH_HLEN);
    if (gw === null || req === null || !arpAsksFor(req, gw)) {
      this.stats[D_ARP]++;
      return;
    }
    const slot = this.nextSlot();
    const n = writeArpReply(this.replies.buf, slot + VXLAN_HLEN, this.cfg.vtepMac, req);
    this.queue(slot, n, peer);
    this.stats[C_ARP]++;
  }

  /** An IPv6 frame that may be a Neighbor Solicitation; eth/len: the inner Ethernet frame. */
  offerSolicit(buf: Buffer, eth: number, len: number, peer: PeerEntry): void {
    const gw = this.cfg.gateway6;
    const req = parseNeighborSolicit(buf, eth + ETH_HLEN, len - ETH_HLEN);
    if (gw === null || req === null || !solicitAsksFor(req, gw)) {
      this.stats[D_NDP]++;
      return;
    }
    for (let i = 0; i < 6; i++) this.frameSrc[i] = buf[eth + ETH_SRC + i];
    const slot = this.nextSlot();
    const n = writeNeighborAdvert(
      this.replies.buf,
      slot + VXLAN_HLEN,
      this.cfg.vtepMac,
      req,
      req.hasSenderMac ? req.senderMac : this.frameSrc,
    );
    this.queue(slot, n, peer);
    this.stats[C_NDP]++;
  }

  flush(): void {
    if (this.replies.count === 0) return;
    this.bind.send(this.replies, this.replies.count);
    this.replies.count = 0;
  }

  /** The next reply slot, its VXLAN header written. */
  private nextSlot(): number {
    const r = this.replies;
    if (r.count === r.capacity) this.flush();
    const slot = r.slotStart(r.count);
    writeVxlan(r.buf, slot, this.cfg.vni);
    return slot;
  }

  private queue(slot: number, frameLen: number, peer: PeerEntry): void {
    const r = this.replies;
    r.offsets[r.count] = slot;
    r.lengths[r.count] = VXLAN_HLEN + frameLen;
    r.segSizes[r.count] = 0;
    r.families[r.count] = peer.family;
    r.addrs.set(peer.publicIp, r.count * 16);
    r.ports[r.count] = this.cfg.port;
    r.count++;
  }
}
