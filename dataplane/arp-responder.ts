/**
 * Answers ARP requests for our gateway address (<subnet>.0) that arrive through the tunnel, so a kernel VXLAN
 * peer that lost its permanent neighbour entry still reaches us. Replies go back encapsulated to the sender.
 */
import { PacketBatch, type UdpBind } from './sys/types.js';
import type { LocalConfig } from './local.js';
import type { PeerEntry } from './routes.js';
import { DropReason } from './packet/drops.js';
import { counterIndex, dropIndex } from './stats.js';
import { parseArpRequest, writeArpReply, arpAsksFor } from './packet/arp.js';
import { writeVxlan, VXLAN_HLEN } from './packet/vxlan.js';
import { ETH_HLEN } from './packet/ethernet.js';

const C_ARP = counterIndex('arpReplies');
const D_ARP = dropIndex(DropReason.ARP_IGNORED);

export class ArpResponder {
  private readonly cfg: LocalConfig;
  private readonly stats: Float64Array;
  private readonly bind: UdpBind;
  private readonly replies: PacketBatch;

  constructor(cfg: LocalConfig, stats: Float64Array, bind: UdpBind) {
    this.cfg = cfg;
    this.stats = stats;
    this.bind = bind;
    this.replies = new PacketBatch(16, 128);
  }

  /** eth/len: the inner Ethernet frame. */
  offer(buf: Buffer, eth: number, len: number, peer: PeerEntry): void {
    const gw = this.cfg.gateway4;
    const req = parseArpRequest(buf, eth + ETH_HLEN, len - ETH_HLEN);
    if (gw === null || req === null || !arpAsksFor(req, gw)) { this.stats[D_ARP]++; return; }
    const r = this.replies;
    if (r.count === r.capacity) this.flush();
    const slot = r.slotStart(r.count);
    writeVxlan(r.buf, slot, this.cfg.vni);
    const n = writeArpReply(r.buf, slot + VXLAN_HLEN, this.cfg.vtepMac, req);
    r.offsets[r.count] = slot;
    r.lengths[r.count] = VXLAN_HLEN + n;
    r.segSizes[r.count] = 0;
    r.families[r.count] = peer.family;
    r.addrs.set(peer.publicIp, r.count * 16);
    r.ports[r.count] = this.cfg.port;
    r.count++;
    this.stats[C_ARP]++;
  }

  flush(): void {
    if (this.replies.count === 0) return;
    this.bind.send(this.replies, this.replies.count);
    this.replies.count = 0;
  }
}

