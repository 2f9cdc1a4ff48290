import { Duplex } from 'node:stream';
import { createRequire } from 'node:module';

/**
 * Makes the `:authority` that etcd's Go clients send acceptable to Node's HTTP/2 server.
 *
 * clientv3 reaches one endpoint directly (`endpoint status`, `hashkv`, `defrag`, ...) by dialing
 * `passthrough:///<endpoint>`, and grpc-go uses the target's endpoint part as `:authority`, so with
 * `--endpoints http://127.0.0.1:2379` the request carries `:authority: http://127.0.0.1:2379`. nghttp2, under
 * Node's http2, checks `:authority` against RFC 3986's authority characters (nghttp2_check_authority: no '/')
 * as part of its HTTP messaging rules, and answers RST_STREAM(PROTOCOL_ERROR) before the request reaches
 * JavaScript. The switch that turns those rules off (nghttp2_option_set_no_http_messaging) is not among the
 * options Node passes to nghttp2, and etcd (grpc-go's own HTTP/2) does not check the value at all.
 *
 * So the client-to-server byte stream of a gRPC connection passes through this filter: every header block
 * (HEADERS plus CONTINUATION frames) is decoded with the connection's HPACK state, a `scheme://` prefix (and
 * any path) is cut from `:authority`, and the block is encoded again for the server with a second HPACK state.
 * Everything else passes unchanged; the server-to-client direction is not touched.
 */
interface HpackHeader {
  name: string;
  value: string;
  neverIndex?: boolean;
}
interface Hpack {
  compressor: { create(o: { table: { size: number } }): { write(h: HpackHeader[]): void; read(): Buffer | null } };
  decompressor: { create(o: { table: { size: number } }): { write(b: Buffer): void; execute(): void; read(): HpackHeader | null } };
}
const hpack = createRequire(import.meta.url)('hpack.js') as Hpack;

const PREFACE_LENGTH = 24;
const FRAME_HEADER = 9;
const HEADERS = 0x1,
  CONTINUATION = 0x9;
const END_STREAM = 0x1,
  END_HEADERS = 0x4,
  PADDED = 0x8,
  PRIORITY = 0x20;
/** HTTP/2's default SETTINGS_HEADER_TABLE_SIZE and SETTINGS_MAX_FRAME_SIZE, which Node's server keeps. */
const TABLE_SIZE = 4096;
const MAX_FRAME = 16384;

/** `http://host:port/x` -> `host:port`; anything without a scheme is returned as it is. */
export function plainAuthority(value: string): string {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/]*)/.exec(value);
  return m ? m[1] : value;
}

export function fixAuthority(socket: Duplex & { setNoDelay?(noDelay: boolean): unknown }): Duplex {
  // Node's HTTP/2 turns Nagle off on sockets it owns; this one it does not see, so do it here (else 40 ms stalls).
  socket.setNoDelay?.(true);
  const decoder = hpack.decompressor.create({ table: { size: TABLE_SIZE } });
  const encoder = hpack.compressor.create({ table: { size: TABLE_SIZE } });
  let pending: Buffer = Buffer.alloc(0);
  let prefaceLeft = PREFACE_LENGTH;
  /** The header block being collected: its stream, HEADERS flags, priority bytes and fragments. */
  let block: { stream: number; flags: number; priority: Buffer; parts: Buffer[] } | undefined;

  const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
    const h = Buffer.alloc(FRAME_HEADER);
    h.writeUIntBE(payload.length, 0, 3);
    h[3] = type;
    h[4] = flags;
    h.writeUInt32BE(stream, 5);
    return Buffer.concat([h, payload]);
  };

  const reencode = (b: NonNullable<typeof block>): Buffer => {
    decoder.write(Buffer.concat(b.parts));
    decoder.execute();
    const headers: HpackHeader[] = [];
    for (let h = decoder.read(); h !== null; h = decoder.read()) {
      headers.push(h.name === ':authority' ? { ...h, value: plainAuthority(h.value) } : h);
    }
    encoder.write(headers);
    const chunks: Buffer[] = [];
    for (let c = encoder.read(); c !== null; c = encoder.read()) chunks.push(c);
    const encoded = Buffer.concat([b.priority, ...chunks]);
    const out: Buffer[] = [];
    for (let off = 0; off === 0 || off < encoded.length; off += MAX_FRAME) {
      const last = off + MAX_FRAME >= encoded.length;
      const flags = (last ? END_HEADERS : 0) | (off === 0 ? b.flags & (END_STREAM | PRIORITY) : 0);
      out.push(frame(off === 0 ? HEADERS : CONTINUATION, flags, b.stream, encoded.subarray(off, off + MAX_FRAME)));
    }
    return Buffer.concat(out);
  };

  /** Consumes whole frames from `pending`; returns the bytes to hand to the server. */
  const filter = (): Buffer => {
    const out: Buffer[] = [];
    if (prefaceLeft > 0) {
      const n = Math.min(prefaceLeft, pending.length);
      out.push(pending.subarray(0, n));
      pending = pending.subarray(n);
      prefaceLeft -= n;
    }
    while (prefaceLeft === 0 && pending.length >= FRAME_HEADER) {
      const length = pending.readUIntBE(0, 3);
      if (pending.length < FRAME_HEADER + length) break;
      const type = pending[3],
        flags = pending[4],
        stream = pending.readUInt32BE(5) & 0x7fffffff;
      const whole = pending.subarray(0, FRAME_HEADER + length);
      let payload = whole.subarray(FRAME_HEADER);
      pending = pending.subarray(FRAME_HEADER + length);
      if (type === HEADERS) {
        const pad = flags & PADDED ? payload[0] : 0;
        payload = payload.subarray(flags & PADDED ? 1 : 0, payload.length - pad);
        const priority = flags & PRIORITY ? Buffer.from(payload.subarray(0, 5)) : Buffer.alloc(0);
        block = { stream, flags, priority, parts: [Buffer.from(payload.subarray(priority.length))] };
      } else if (type === CONTINUATION && block) {
        block.parts.push(Buffer.from(payload));
      } else {
        out.push(whole);
        continue;
      }
      if (flags & END_HEADERS) {
        out.push(reencode(block));
        block = undefined;
      }
    }
    return Buffer.concat(out);
  };

  const wrapper = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let bytes: Buffer;
    try {
      bytes = filter();
    } catch (err) {
      // A header block that does not decode: the connection cannot go on, as HTTP/2 says (COMPRESSION_ERROR).
      wrapper.destroy(err as Error);
      return;
    }
    if (bytes.length > 0 && !wrapper.push(bytes)) socket.pause();
  });
  socket.on('end', () => wrapper.push(null));
  socket.on('close', () => wrapper.destroy());
  socket.on('error', (err) => wrapper.destroy(err));
  return wrapper;
}
