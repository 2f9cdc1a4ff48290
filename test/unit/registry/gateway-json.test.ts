import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, parseJsonBody } from '../../../control/registry/wire/gateway-json.js';
import { messageType } from '../../../control/registry/wire/proto.js';
import { RpcError } from '../../../control/registry/wire/rpc-error.js';

const T = (n: string) => messageType(n);
function fails(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RpcError) return `${e.grpcCode} ${e.message}`;
    throw e;
  }
  return 'no error';
}

describe('gateway JSON (grpc-gateway/jsonpb conventions of etcd 3.4)', () => {
  it('accepts proto and lowerCamel names, int64 as string or number, enums as names or numbers; ignores unknown fields', () => {
    const m = decodeMessage(T('etcdserverpb.TxnRequest'), {
      compare: [
        { key: 'Zm9v', target: 'CREATE', result: 'NOT_EQUAL', createRevision: 0 },
        { key: 'Zm9v', target: 2, mod_revision: '7' },
      ],
      success: [{ requestPut: { key: 'Zm9v', value: 'YmFy', prevKv: true } }],
      ttl: 60,
    });
    expect(m).toEqual({
      compare: [
        { key: Buffer.from('foo'), target: 1, result: 3, create_revision: '0' },
        { key: Buffer.from('foo'), target: 2, mod_revision: '7' },
      ],
      success: [{ request_put: { key: Buffer.from('foo'), value: Buffer.from('bar'), prev_kv: true } }],
    });
  });

  it('writes proto names in declaration order, int64 as strings, base64 bytes, and omits zero values', () => {
    const json = encodeMessage(T('etcdserverpb.WatchResponse'), {
      header: { cluster_id: '11', member_id: '22', revision: 9, raft_term: 1 },
      watch_id: 0,
      events: [
        { type: 0, kv: { key: Buffer.from('a'), create_revision: 9, mod_revision: 9, version: 1, value: Buffer.alloc(0), lease: '0' } },
        { type: 1, kv: { key: Buffer.from('b'), create_revision: 0, mod_revision: 9, version: 0, value: Buffer.alloc(0), lease: '0' } },
      ],
    });
    expect(json).toBe(
      '{"header":{"cluster_id":"11","member_id":"22","revision":"9","raft_term":"1"},"events":[' +
        '{"kv":{"key":"YQ==","create_revision":"9","mod_revision":"9","version":"1"}},{"type":"DELETE","kv":{"key":"Yg==","mod_revision":"9"}}]}',
    );
    expect(encodeMessage(T('etcdserverpb.TxnResponse'), { header: { revision: 3 }, succeeded: false })).toBe('{"header":{"revision":"3"}}');
    expect(encodeMessage(T('etcdserverpb.LeaseGrantResponse'), { ID: '9223372036854775807', TTL: 2 })).toBe(
      '{"ID":"9223372036854775807","TTL":"2"}',
    );
  });

  it('rejects bad input with Go-shaped messages and code 3', () => {
    expect(fails(() => parseJsonBody('{bad'))).toMatch(/^3 invalid character 'b'/);
    expect(fails(() => decodeMessage(T('etcdserverpb.RangeRequest'), { key: '!!!' }))).toBe('3 illegal base64 data at input byte 0');
    expect(fails(() => decodeMessage(T('etcdserverpb.RangeRequest'), { key: 'Zm9v', limit: 1.5 }))).toBe(
      '3 json: cannot unmarshal number 1.5 into Go value of type int64',
    );
    expect(fails(() => decodeMessage(T('etcdserverpb.Compare'), { target: 'BOGUS' }))).toBe(
      '3 unknown value "BOGUS" for enum etcdserverpb.Compare_CompareTarget',
    );
    expect(fails(() => decodeMessage(T('etcdserverpb.RangeRequest'), [1]))).toBe(
      '3 json: cannot unmarshal array into Go value of type map[string]json.RawMessage',
    );
    expect(parseJsonBody('')).toEqual({});
  });
});
