/**
 * Bounds the memory held for watch responses that clients have not read yet. Each watch stream (a gRPC Watch
 * call or one POST /v3/watch) counts the bytes it queued and not yet flushed; the registry counts all of them.
 * A stream is cut as too slow when its own backlog passes PER_STREAM_BYTES, or when the registry's total
 * passes TOTAL_BYTES and the stream holds more than FAIR_SHARE_BYTES of it (so a flood of watchers that never
 * read cannot take the memory, and a watcher that keeps up is never the one cut).
 */
export const PER_STREAM_BYTES = 16 * 1024 * 1024;
export const TOTAL_BYTES = 128 * 1024 * 1024;
export const FAIR_SHARE_BYTES = 1024 * 1024;

export class WatchBacklog {
  pending = 0;

  /** A tracker for one stream; `release()` it when the stream closes. */
  stream(): StreamBacklog {
    return new StreamBacklog(this);
  }
}

export class StreamBacklog {
  private bytes = 0;
  private released = false;

  constructor(private readonly total: WatchBacklog) {}

  /** Counts `n` queued bytes; returns false when the stream must be cut as too slow. */
  queued(n: number): boolean {
    if (this.released) return true;
    this.bytes += n;
    this.total.pending += n;
    return this.bytes <= PER_STREAM_BYTES && !(this.total.pending > TOTAL_BYTES && this.bytes > FAIR_SHARE_BYTES);
  }

  /** `n` bytes left the process (the write's callback ran). */
  flushed(n: number): void {
    if (this.released) return;
    this.bytes -= n;
    this.total.pending -= n;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.total.pending -= this.bytes;
    this.bytes = 0;
  }
}
