/**
 * Loads the C shim (dataplane/native, built by `npm ci`). The shim is context-aware, so every worker thread
 * loads its own copy through this module. Its functions return -errno on failure and throw only on wrong JS types;
 * the wrappers in this folder validate arguments and turn errnos into VxtunErrors.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VxtunError } from '../errors.js';

/** Opaque handle created by bindBatch; see native-notes/shim-contract.md. */
export type BatchHandle = { readonly __batchHandle: unique symbol };

export interface NativeShim {
  bindBatch(
    buf: Uint8Array,
    slotSize: number,
    capacity: number,
    offsets: Int32Array,
    lengths: Int32Array,
    segSizes: Int32Array,
    families: Uint8Array,
    addrs: Uint8Array,
    ports: Uint16Array,
    status: Int32Array,
  ): BatchHandle;
  tunOpen(name: string, flags: number, fdsOut: Int32Array, nameOut: Uint8Array): number;
  tunRead(fd: number, batch: BatchHandle, headroom: number): number;
  tunWrite(fd: number, batch: BatchHandle, count: number): number;
  tunWriteAt(fd: number, batch: BatchHandle, offset: number, length: number): number;
  linkSetMtu(name: string, mtu: number): number;
  linkSetUp(name: string): number;
  linkFlags(name: string): number;
  linkHwAddr(name: string, out: Uint8Array): number;
  linkAdd(name: string, family: number, addr: Uint8Array, prefixLen: number, isRoute: number): number;
  setNetns(nsFd: number): number;
  udpOpen(family: number, addr: Uint8Array, port: number, flags: number, bufferBytes: number, info: Int32Array): number;
  udpRecv(fd: number, batch: BatchHandle, headroom: number): number;
  udpSend(fd: number, batch: BatchHandle, start: number, count: number, useGso: number): number;
  pollWait(tunFd: number, udpFd: number, wakeFd: number, timeoutMs: number): number;
  eventfdCreate(): number;
  eventfdSignal(fd: number): number;
  eventfdDrain(fd: number): number;
  closeFd(fd: number): number;
  csumSegments(
    buf: Uint8Array,
    first: number,
    stride: number,
    count: number,
    l4Off: number,
    csumOff: number,
    lengths: Int32Array,
    isUdp: number,
  ): number;
  copyRanges(src: Uint8Array, dst: Uint8Array, list: Int32Array, count: number): number;
  sumRange(buf: Uint8Array, off: number, len: number): number;
  copySegments(
    src: Uint8Array,
    pktOff: number,
    pktLen: number,
    hdrLen: number,
    gsoSize: number,
    out: Uint8Array,
    outOff: number,
    stride: number,
  ): number;
}

export const TUN_FLAG_MULTI_QUEUE = 1;
export const TUN_FLAG_VNET_HDR = 2;
export const TUN_FLAG_EXCLUSIVE = 4;
export const TUN_FLAG_TAP = 8;
export const TUN_FLAG_TUNNEL = 16;
export const UDP_FLAG_REUSEPORT = 1;
export const UDP_FLAG_GRO = 2;
export const UDP_FLAG_NO_CHECK = 4;
/** Indexes into a batch handle's status array (VX_ST_* in dataplane/native/src/vx.h). */
export const ST_ERRNO = 0;
export const ST_RESUME = 1;
export const ST_DROPPED = 2;
export const ST_TRUNC = 3;
export const ST_OVFL = 4;
export const STATUS_LEN = 5;

const ADDON = join('dataplane', 'native', 'build', 'Release', 'vxtun_native.node');

/** Source runs from dataplane/sys/, compiled code from dist/dataplane/sys/; the addon stays in the package root. */
export function addonCandidates(fromDir: string): string[] {
  return [join(fromDir, '..', '..', ADDON), join(fromDir, '..', '..', '..', ADDON)];
}

let shim: NativeShim | undefined;

export function loadNative(): NativeShim {
  if (shim !== undefined) return shim;
  const here = dirname(fileURLToPath(import.meta.url));
  const path = addonCandidates(here).find((p) => existsSync(p));
  if (path === undefined) {
    throw new VxtunError(
      'VXTUN_ERR_NATIVE_MISSING',
      `the native shim ${ADDON} is not built; run \`npm ci\` (or \`npm run install\`) in the vxtun package root ` +
        '(it needs a C compiler, make and python3)',
    );
  }
  try {
    shim = createRequire(import.meta.url)(path) as NativeShim;
  } catch (cause) {
    throw new VxtunError('VXTUN_ERR_NATIVE_MISSING', `the native shim at ${path} failed to load; rebuild it with \`npm run install\``, {
      cause,
    });
  }
  return shim;
}
