import { conformanceSuite } from './suite.js';
import { embedded } from './targets.js';

conformanceSuite(embedded);
