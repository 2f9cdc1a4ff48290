/**
 * The syntax checking of Go's encoding/json scanner (scanner.go), for its exact error texts: etcd's gateway
 * reads a body with a json.Decoder (the first value counts, "unexpected EOF" when it is cut short) and reads an
 * int64 given as a string by json.Unmarshal of the text between the quotes ("unexpected end of JSON input",
 * "invalid character 'x' after top-level value").
 */
type Mode = 'decoder' | 'unmarshal';
export type GoScan = { ok: true; end: number } | { ok: false; error: string };

const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isDigit = (c: string) => c >= '0' && c <= '9';
const isHex = (c: string) => isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');

/** Go's quoteChar: how the scanner names the offending byte. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const code = c.charCodeAt(0);
  const byte = code < 0x80 ? code : 0xc0 | ((code >> 6) & 0x1f); // the first byte of its UTF-8 encoding
  const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 92: '\\\\' };
  if (named[byte]) return `'${named[byte]}'`;
  if (byte < 0x20 || byte === 0x7f) return `'\\x${byte.toString(16).padStart(2, '0')}'`;
  if (byte >= 0x80 && byte < 0xa0) return `'\\u00${byte.toString(16)}'`;
  return `'${String.fromCharCode(byte)}'`;
}

const err = (c: string, context: string): GoScan => ({ ok: false, error: `invalid character ${quoteChar(c)} ${context}` });

export function goScan(text: string, mode: Mode): GoScan {
  const stack: ('key' | 'value' | 'array')[] = [];
  let i = 0;
  const eof = (): GoScan => ({ ok: false, error: mode === 'decoder' ? 'unexpected EOF' : 'unexpected end of JSON input' });
  /**
   * The end of input inside a number or a literal: json.Unmarshal feeds the scanner a space there, so the error
   * names ' ' (a Decoder says "unexpected EOF").
   */
  const eofIn = (context: string): GoScan => (mode === 'decoder' ? eof() : err(' ', context));

  /** After a complete value: what may follow depends on where it stood. Returns an error, 'done', or 'more'. */
  const afterValue = (): GoScan | 'more' => {
    for (;;) {
      if (stack.length === 0) {
        if (mode === 'decoder') return { ok: true, end: i };
        while (i < text.length && isSpace(text[i])) i++;
        return i < text.length ? err(text[i], 'after top-level value') : { ok: true, end: i };
      }
      while (i < text.length && isSpace(text[i])) i++;
      if (i >= text.length) return eof();
      const c = text[i];
      const top = stack[stack.length - 1];
      if (top === 'key') {
        if (c !== ':') return err(c, 'after object key');
        stack[stack.length - 1] = 'value';
        i++;
        return 'more';
      }
      if (top === 'value') {
        if (c === ',') {
          stack[stack.length - 1] = 'key';
          i++;
          return key();
        }
        if (c !== '}') return err(c, 'after object key:value pair');
      } else {
        if (c === ',') {
          i++;
          return 'more';
        }
        if (c !== ']') return err(c, 'after array element');
      }
      stack.pop();
      i++;
    }
  };

  /** Expects an object key string (a ',' or '{' was just read). */
  const key = (): GoScan | 'more' => {
    while (i < text.length && isSpace(text[i])) i++;
    if (i >= text.length) return eof();
    if (text[i] !== '"') return err(text[i], 'looking for beginning of object key string');
    return 'more';
  };

  const literal = (word: string): GoScan | undefined => {
    for (let k = 1; k < word.length; k++, i++) {
      if (i + 1 >= text.length) return eofIn(`in literal ${word} (expecting '${word[k]}')`);
      if (text[i + 1] !== word[k]) return err(text[i + 1], `in literal ${word} (expecting '${word[k]}')`);
    }
    i++;
    return undefined;
  };

  const string = (): GoScan | undefined => {
    for (i++; ; i++) {
      if (i >= text.length) return eof();
      const c = text[i];
      if (c === '"') {
        i++;
        return undefined;
      }
      if (c.charCodeAt(0) < 0x20) return err(c, 'in string literal');
      if (c === '\\') {
        i++;
        if (i >= text.length) return eof();
        if (text[i] === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (i >= text.length) return eof();
            if (!isHex(text[i])) return err(text[i], 'in \\u hexadecimal character escape');
          }
        } else if (!'bfnrt\\/"'.includes(text[i])) {
          return err(text[i], 'in string escape code');
        }
      }
    }
  };

  const number = (): GoScan | undefined => {
    const at = () => (i < text.length ? text[i] : '');
    if (at() === '-') {
      i++;
      if (i >= text.length) return eofIn('in numeric literal');
      if (!isDigit(at())) return err(at(), 'in numeric literal');
    }
    if (at() === '0') i++;
    else while (isDigit(at())) i++;
    if (at() === '.') {
      i++;
      if (i >= text.length) return eofIn('after decimal point in numeric literal');
      if (!isDigit(at())) return err(at(), 'after decimal point in numeric literal');
      while (isDigit(at())) i++;
    }
    if (at() === 'e' || at() === 'E') {
      i++;
      if (at() === '+' || at() === '-') i++;
      if (i >= text.length) return eofIn('in exponent of numeric literal');
      if (!isDigit(at())) return err(at(), 'in exponent of numeric literal');
      while (isDigit(at())) i++;
    }
    // A number ends only at the next byte (or the end of input, which a Decoder treats as its end too).
    return undefined;
  };

  for (;;) {
    // Looking for the beginning of a value.
    while (i < text.length && isSpace(text[i])) i++;
    if (i >= text.length) return eof();
    const c = text[i];
    let failed: GoScan | undefined;
    if (c === '{') {
      i++;
      while (i < text.length && isSpace(text[i])) i++;
      if (i < text.length && text[i] === '}') {
        i++;
        failed = undefined;
      } else {
        stack.push('key');
        const k = key();
        if (k !== 'more') return k;
        failed = string();
        if (failed) return failed;
      }
    } else if (c === '[') {
      i++;
      while (i < text.length && isSpace(text[i])) i++;
      if (i < text.length && text[i] === ']') i++;
      else {
        stack.push('array');
        continue;
      }
    } else if (c === '"') failed = string();
    else if (c === '-' || isDigit(c)) failed = number();
    else if (c === 't') failed = literal('true');
    else if (c === 'f') failed = literal('false');
    else if (c === 'n') failed = literal('null');
    else return err(c, 'looking for beginning of value');
    if (failed) return failed;
    for (;;) {
      const next = afterValue();
      if (next !== 'more') return next;
      // afterValue read ':' (a value follows), ',' in an array (a value follows), or ',' in an object and the
      // opening quote of the next key is at i.
      if (stack[stack.length - 1] === 'key') {
        const f = string();
        if (f) return f;
        continue;
      }
      break;
    }
  }
}
