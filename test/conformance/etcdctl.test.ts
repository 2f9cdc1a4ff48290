import { etcdctlSuite } from './etcdctl-suite.js';
import { embedded, etcd3423 } from './targets.js';

// Real etcd first: it proves the expectations; then the embedded registry's gRPC side must meet the same ones.
etcdctlSuite(etcd3423);
etcdctlSuite(embedded);
