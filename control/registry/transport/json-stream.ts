/**
 * Splits a byte stream of concatenated JSON values ({..}{..} or one per line) into texts, the way Go's
 * json.Decoder reads a gateway stream body. Tracks strings and escapes so braces inside strings don't count.
 */
export class JsonObjectSplitter {
  private buf = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;
  private scanned = 0;

  /** Feeds a chunk; returns the complete values it finished. Throws on text outside a value. */
  push(chunk: string, maxBuffered: number): string[] {
    this.buf += chunk;
    if (this.buf.length > maxBuffered) throw new Error('request is too large');
    const out: string[] = [];
    for (let i = this.scanned; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
        if (c !== '{' && c !== '[') throw new Error(`invalid character '${c}' looking for beginning of value`);
        this.start = i;
      }
      if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if (c === '}' || c === ']') {
        this.depth--;
        if (this.depth === 0) {
          out.push(this.buf.slice(this.start, i + 1));
          this.start = -1;
        }
      }
    }
    if (this.depth === 0 && !this.inString) {
      this.buf = '';
      this.scanned = 0;
    } else {
      this.buf = this.buf.slice(this.start);
      this.scanned = this.buf.length;
      this.start = 0;
    }
    return out;
  }

  /** True when the stream ended inside a value. */
  get partial(): boolean {
    return this.depth > 0 || this.inString;
  }
}
