/**
 * Splits the gateway's streamed responses (one JSON object per line, `{"result":…}` or `{"error":…}`) into objects.
 * A line over `maxLineBytes` is an error rather than unbounded buffering.
 */
export class NdjsonSplitter {
  private pending = '';
  constructor(
    private readonly onObject: (obj: unknown) => void,
    private readonly maxLineBytes = 64 * 1024 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl = this.pending.indexOf('\n');
    while (nl >= 0) {
      const line = this.pending.slice(0, nl).trim();
      this.pending = this.pending.slice(nl + 1);
      if (line !== '') this.onObject(JSON.parse(line));
      nl = this.pending.indexOf('\n');
    }
    if (this.pending.length > this.maxLineBytes) throw new Error(`stream line longer than ${this.maxLineBytes} bytes`);
  }

  /** The final object when the stream ended without a newline. */
  end(): void {
    const line = this.pending.trim();
    this.pending = '';
    if (line !== '') this.onObject(JSON.parse(line));
  }
}
