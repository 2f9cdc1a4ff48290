/**
 * Binds a PacketBatch to the shim once, so each batch call passes one handle instead of nine typed arrays.
 * The handle holds raw pointers into the batch's arrays; it lives only in this WeakMap, so it can never outlive
 * the batch that keeps those arrays alive. A bound batch's buffers must never be transferred or detached.
 */
import type { NativeShim, BatchHandle } from './native.js';
import { STATUS_LEN } from './native.js';
import type { PacketBatch } from './types.js';

export interface BoundBatch {
  readonly handle: BatchHandle;
  /** Written by every batch call: see ST_* in native.ts. */
  readonly status: Int32Array;
}

const bound = new WeakMap<PacketBatch, BoundBatch>();

export function bindBatch(native: NativeShim, batch: PacketBatch): BoundBatch {
  let b = bound.get(batch);
  if (b === undefined) {
    const status = new Int32Array(STATUS_LEN);
    const handle = native.bindBatch(
      batch.buf,
      batch.slotSize,
      batch.capacity,
      batch.offsets,
      batch.lengths,
      batch.segSizes,
      batch.families,
      batch.addrs,
      batch.ports,
      status,
    );
    b = { handle, status };
    bound.set(batch, b);
  }
  return b;
}
