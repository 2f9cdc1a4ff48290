import { conformanceSuite } from './suite.js';
import { etcd3423 } from './targets.js';

conformanceSuite(etcd3423);
