/** The error-code table, the README's list and the codes the source throws must agree. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../dataplane/errors.js';
import { ROOT } from '../netns/harness.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' || name === 'results' ? [] : sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('errors.ts') ? [p] : [];
  });
}

const tableCodes = Object.keys(ERROR_CODES).sort();

describe('error codes', () => {
  it('README lists exactly the codes of the table, with the same meaning', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.split('<!-- error-codes:start -->')[1]?.split('<!-- error-codes:end -->')[0] ?? '';
    const rows = [...section.matchAll(/^\| `(VXTUN_ERR_[A-Z_]+)` \| (.+) \|$/gm)].map((m) => [m[1], m[2]]);
    expect(rows.map((r) => r[0]).sort()).toEqual(tableCodes);
    for (const [code, meaning] of rows) expect(meaning).toBe(ERROR_CODES[code as keyof typeof ERROR_CODES]);
  });

  it('every code the source names is in the table, and every code in the table is used', () => {
    const used = new Set<string>();
    for (const dir of ['dataplane', 'control', 'bench']) {
      for (const f of sourceFiles(join(ROOT, dir))) {
        for (const m of readFileSync(f, 'utf8').matchAll(/VXTUN_ERR_[A-Z_]+/g)) used.add(m[0]);
      }
    }
    expect([...used].sort()).toEqual(tableCodes);
  });
});
