import protobuf from 'protobufjs';
import { GrpcCode } from '../../etcd-wire.js';
import { RpcError } from './rpc-error.js';
import { goScan } from './go-json.js';

/**
 * The JSON of etcd's grpc-gateway (golang/protobuf jsonpb with OrigName): proto field names out, proto or
 * lowerCamel names in, bytes as standard base64, 64-bit integers as strings, enums as UPPER_SNAKE names,
 * zero values omitted, unknown input fields ignored. Fields are written in declaration order, as Go does.
 *
 * Decoded messages use: int64 -> decimal string, bytes -> Buffer, enum -> number, nested -> object.
 * Encoders accept int64 as number | string | bigint.
 */

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const INT32 = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const bad = (msg: string) => new RpcError(GrpcCode.INVALID_ARGUMENT, msg);

/** etcd's proto enum names are UPPER_SNAKE; the copy in `etcd3` spells them CamelCase. */
export function upperSnake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function goTypeName(t: protobuf.ReflectionObject): string {
  const full = t.fullName.replace(/^\./, '');
  const parts = full.split('.');
  return `${parts[0]}.${parts.slice(1).join('_')}`;
}

const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

interface FieldIndex {
  byJsonName: Map<string, protobuf.Field>;
}
const indexCache = new WeakMap<protobuf.Type, FieldIndex>();
function fieldIndex(type: protobuf.Type): FieldIndex {
  let idx = indexCache.get(type);
  if (!idx) {
    const byJsonName = new Map<string, protobuf.Field>();
    for (const f of type.fieldsArray) {
      byJsonName.set(f.name, f);
      byJsonName.set(camel(f.name), f);
    }
    idx = { byJsonName };
    indexCache.set(type, idx);
  }
  return idx;
}

/**
 * Parse a request body as Go's json.Decoder does: the first value counts and anything after it is ignored;
 * a syntax error gets the text Go's scanner gives; an empty body and `null` are an empty message.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return {};
  const scan = goScan(text, 'decoder');
  if (!scan.ok) throw bad(scan.error);
  return JSON.parse(text.slice(0, scan.end)) ?? {};
}

export function decodeMessage(type: protobuf.Type, json: unknown): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    const kind = Array.isArray(json)
      ? 'array'
      : json === null
        ? 'null'
        : typeof json === 'string'
          ? 'string'
          : typeof json === 'number'
            ? 'number'
            : 'bool';
    throw bad(`json: cannot unmarshal ${kind} into Go value of type map[string]json.RawMessage`);
  }
  const out: Record<string, unknown> = {};
  const idx = fieldIndex(type);
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    const field = idx.byJsonName.get(k);
    if (!field || v === null) continue;
    if (field.repeated) {
      if (!Array.isArray(v)) throw bad(`json: cannot unmarshal ${describe(v)} into Go value of type []json.RawMessage`);
      // A null element passes jsonpb (and then crashes etcd): the other elements' errors come first, then it is refused.
      out[field.name] = v.map((item) => (item === null ? null : decodeValue(field, item)));
      if (v.includes(null)) decodeValue(field, null);
    } else {
      out[field.name] = decodeValue(field, v);
    }
  }
  return out;
}

function decodeValue(field: protobuf.Field, v: unknown): unknown {
  const t = field.type;
  if (INT64.has(t) || INT32.has(t)) return decodeInteger(t, v);
  switch (t) {
    case 'bool':
      if (typeof v !== 'boolean') throw bad(`json: cannot unmarshal ${describe(v)} into Go value of type bool`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw bad(`json: cannot unmarshal ${describe(v)} into Go value of type string`);
      return v;
    case 'bytes':
      return decodeBytes(v);
    case 'double':
    case 'float':
      if (typeof v !== 'number') throw bad(`json: cannot unmarshal ${describe(v)} into Go value of type float64`);
      return v;
  }
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) return decodeEnum(rt, v);
  if (rt instanceof protobuf.Type) return decodeMessage(rt, v);
  throw bad(`unsupported field type ${t}`);
}

/** How Go's UnmarshalTypeError names a JSON value; only integer targets also get a number's text. */
function describe(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'object' : typeof v === 'boolean' ? 'bool' : typeof v;
}

/**
 * An integer field. A JSON string holding it is read as jsonpb does: the text between the quotes is parsed as
 * JSON on its own (so `"12"` is 12, `"null"` is 0, and `"1x"` fails as Go's json.Unmarshal would).
 */
function decodeInteger(t: string, v: unknown): string | number {
  const goType = t.startsWith('u') || t.startsWith('fixed') ? (INT64.has(t) ? 'uint64' : 'uint32') : INT64.has(t) ? 'int64' : 'int32';
  let value = v;
  let literal = typeof v === 'number' ? JSON.stringify(v) : '';
  if (typeof v === 'string') {
    const raw = JSON.stringify(v).slice(1, -1);
    const scan = goScan(raw, 'unmarshal');
    if (!scan.ok) throw bad(scan.error);
    value = JSON.parse(raw);
    literal = raw.trim();
  }
  if (value === null) return INT64.has(t) ? '0' : 0;
  if (typeof value !== 'number') throw bad(`json: cannot unmarshal ${describe(value)} into Go value of type ${goType}`);
  const fail = () => bad(`json: cannot unmarshal number ${literal} into Go value of type ${goType}`);
  if (!/^-?\d+$/.test(literal)) throw fail();
  const n = BigInt(literal);
  const [min, max] =
    goType === 'int64'
      ? [-(1n << 63n), (1n << 63n) - 1n]
      : goType === 'uint64'
        ? [0n, (1n << 64n) - 1n]
        : goType === 'int32'
          ? [-(1n << 31n), (1n << 31n) - 1n]
          : [0n, (1n << 32n) - 1n];
  if (n < min || n > max) throw fail();
  return INT64.has(t) ? n.toString() : Number(n);
}

function decodeBytes(v: unknown): Buffer {
  // Go's encoding/json also fills a []byte from an array of numbers, element by element.
  if (Array.isArray(v)) {
    return Buffer.from(
      v.map((b) => {
        if (b === null) return 0;
        if (typeof b !== 'number') throw bad(`json: cannot unmarshal ${describe(b)} into Go value of type uint8`);
        if (!Number.isInteger(b) || b < 0 || b > 255)
          throw bad(`json: cannot unmarshal number ${JSON.stringify(b)} into Go value of type uint8`);
        return b;
      }),
    );
  }
  if (typeof v !== 'string') throw bad(`json: cannot unmarshal ${describe(v)} into Go value of type []uint8`);
  const s = v.replace(/[\r\n]/g, '');
  if (!BASE64.test(s)) {
    let i = 0;
    while (i < s.length && /[A-Za-z0-9+/]/.test(s[i])) i++;
    throw bad(`illegal base64 data at input byte ${s.length % 4 !== 0 && i === s.length ? s.length - (s.length % 4) : i}`);
  }
  return Buffer.from(s, 'base64');
}

function decodeEnum(e: protobuf.Enum, v: unknown): number {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return v;
    throw bad(`json: cannot unmarshal number ${JSON.stringify(v)} into Go value of type ${goTypeName(e)}`);
  }
  if (typeof v !== 'string') throw bad(`json: cannot unmarshal ${describe(v)} into Go value of type ${goTypeName(e)}`);
  for (const [name, num] of Object.entries(e.values)) {
    if (upperSnake(name) === v || name === v) return num;
  }
  // jsonpb names the text between the quotes as it stands in the body (escapes not undone).
  throw bad(`unknown value ${JSON.stringify(JSON.stringify(v).slice(1, -1))} for enum ${goTypeName(e)}`);
}

/** Serialize a message the way the gateway does (zero values omitted). */
export function encodeMessage(type: protobuf.Type, msg: Record<string, unknown>): string {
  let out = '{';
  let first = true;
  for (const field of type.fieldsArray) {
    const v = msg[field.name];
    if (v === undefined || v === null) continue;
    let text: string | undefined;
    if (field.repeated) {
      const arr = v as unknown[];
      if (arr.length === 0) continue;
      text = '[' + arr.map((item) => encodeValue(field, item, true) ?? encodeZero(field)).join(',') + ']';
    } else {
      text = encodeValue(field, v, false);
    }
    if (text === undefined) continue;
    out += (first ? '"' : ',"') + field.name + '":' + text;
    first = false;
  }
  return out + '}';
}

function encodeZero(field: protobuf.Field): string {
  if (field.type === 'bytes' || field.type === 'string') return '""';
  return INT64.has(field.type) ? '"0"' : '0';
}

/** Returns undefined for a zero value that proto3 JSON omits (in repeated fields the caller writes the zero). */
function encodeValue(field: protobuf.Field, v: unknown, inArray: boolean): string | undefined {
  const t = field.type;
  if (INT64.has(t)) {
    const s = typeof v === 'string' ? v : String(v as number | bigint);
    return s === '0' && !inArray ? undefined : '"' + s + '"';
  }
  if (INT32.has(t) || t === 'double' || t === 'float') return v === 0 && !inArray ? undefined : String(v);
  switch (t) {
    case 'bool':
      return v ? 'true' : inArray ? 'false' : undefined;
    case 'string':
      return v === '' && !inArray ? undefined : JSON.stringify(v);
    case 'bytes': {
      const b = v as Buffer;
      return b.length === 0 && !inArray ? undefined : '"' + b.toString('base64') + '"';
    }
  }
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) {
    const num = typeof v === 'number' ? v : rt.values[v as string];
    if (num === 0 && !inArray) return undefined;
    const name = rt.valuesById[num];
    return name === undefined ? String(num) : '"' + upperSnake(name) + '"';
  }
  if (rt instanceof protobuf.Type) return encodeMessage(rt, v as Record<string, unknown>);
  return undefined;
}
