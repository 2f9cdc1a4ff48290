// What both impairing relays do to a packet on its way (relay.mjs: VXLAN datagrams between UDP sockets;
// tun-relay.mjs: whole IP packets through a TUN device, the benchmark's WAN): the spec they share, the counts they
// print, and one direction's pipeline — loss, corruption, duplication, reordering, then a fixed delay.
//
// Spec: comma-separated key=value, or "none".
//   loss, reorder, duplicate, corruptOuter, corruptInner, corruptIpHeader: probabilities 0..1 per packet;
//   delay=<ms>: every impaired packet leaves this many milliseconds after it arrived (0..10000; first in, first out);
//   direction=ab|ba: impair one way only (default both); zeroChecksum=1: relay.mjs only (see there).
import { performance } from 'node:perf_hooks';

export const PROBABILITIES = ['loss', 'reorder', 'duplicate', 'corruptOuter', 'corruptInner', 'corruptIpHeader'];
/** Delayed packets held at once, in bytes; beyond it a packet is dropped and counted as queueFull (a full router buffer). */
const DELAY_LINE_BYTES = 64 << 20;

export function parseImpairments(spec) {
  const p = Object.fromEntries(PROBABILITIES.map((k) => [k, 0]));
  const opts = { p, direction: 'both', zeroChecksum: false, delayMs: 0 };
  if (spec === 'none') return opts;
  for (const kv of spec.split(',')) {
    const [k, v] = kv.split('=');
    if (k === 'direction' && (v === 'ab' || v === 'ba')) opts.direction = v;
    else if (k === 'zeroChecksum' && v === '1') opts.zeroChecksum = true;
    else if (k === 'delay' && Number(v) >= 0 && Number(v) <= 10_000) opts.delayMs = Number(v);
    else if (k in p && Number(v) >= 0 && Number(v) <= 1) p[k] = Number(v);
    else throw new Error(`relay: bad impairment "${kv}"`);
  }
  return opts;
}

export function newCounts() {
  return { relayed: 0, sendFailed: 0, ...Object.fromEntries(PROBABILITIES.map((k) => [k, 0])), queueFull: 0 };
}

/**
 * Messages leave through their send function delayMs after push(), in order. `timed`: a timer flushes the line
 * (for an event-driven relay); otherwise the caller calls flush() and waits at most the time it returns.
 */
export class DelayLine {
  constructor(delayMs, counts, timed) {
    this.delayMs = delayMs;
    this.counts = counts;
    this.timed = timed;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    this.timer = null;
  }

  push(msg, send) {
    if (this.bytes + msg.length > DELAY_LINE_BYTES) {
      this.counts.queueFull++;
      return;
    }
    this.items.push({ due: performance.now() + this.delayMs, msg, send });
    this.bytes += msg.length;
    if (this.timed && this.timer === null) this.timer = setTimeout(() => this.tick(), this.delayMs);
  }

  /** Sends what is due; returns the milliseconds until the next message is due, or -1 when the line is empty. */
  flush() {
    const now = performance.now();
    while (this.head < this.items.length && this.items[this.head].due <= now) {
      const { msg, send } = this.items[this.head];
      this.items[this.head++] = undefined;
      this.bytes -= msg.length;
      send(msg);
    }
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.head < this.items.length ? this.items[this.head].due - now : -1;
  }

  tick() {
    const next = this.flush();
    this.timer = next < 0 ? null : setTimeout(() => this.tick(), next);
  }
}

/**
 * One direction of a relay: returns the function to call with every packet that arrives; it goes on through
 * `send`, impaired when `impaired`. `corrupt(msg, p, counts)` flips bits at the offsets of the relay's packet format.
 * A packet may be sent after the call returns (delay, reorder): pass a buffer nobody reuses.
 */
export function direction({ impaired, opts, counts, corrupt, send, delayLine }) {
  const { p } = opts;
  const out = delayLine === undefined || opts.delayMs === 0 ? send : (msg) => delayLine.push(msg, send);
  let held = null;
  let heldTimer = null;
  const release = () => {
    if (held === null) return;
    out(held);
    held = null;
    clearTimeout(heldTimer);
  };
  return (msg) => {
    counts.relayed++;
    if (!impaired) {
      send(msg);
      return;
    }
    if (Math.random() < p.loss) {
      counts.loss++;
      return;
    }
    corrupt(msg, p, counts);
    if (Math.random() < p.duplicate) {
      counts.duplicate++;
      out(Buffer.from(msg));
    }
    if (held === null && Math.random() < p.reorder) {
      // Held back until the next packet has gone (or 2 ms pass), so it arrives after a later one.
      counts.reorder++;
      held = msg;
      heldTimer = setTimeout(release, 2);
      return;
    }
    out(msg);
    release();
  };
}
