export { EtcdClient, type EtcdClientOptions } from './client.js';
export {
  cmp,
  op,
  type Compare,
  type CompareOp,
  type Op,
  type TxnRequest,
  type RangeOptions,
  type PutOptions,
  type DeleteOptions,
} from './ops.js';
export { Watcher, type WatchHandler, type WatchHandlers, type WatchOptions } from './watch.js';
export { type ListAndWatch, type ListAndWatchHandlers, type ListAndWatchOptions } from './list-watch.js';
export { EtcdError, parseErrorBody } from './errors.js';
export { text, toBuffer, type Bytes } from './codec.js';
export { prefixEnd } from '../etcd-wire.js';
export type * from './types.js';
