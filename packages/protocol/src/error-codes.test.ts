import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isRetryableAnswer } from './error-codes.js';

/** The tables of docs/ERRORS.md: `| \`code\`[, \`code\`] | status | retry | meaning |`. */
function documentedCodes(): Map<string, { status: string; retry: string }[]> {
  const text = fs.readFileSync(path.join(import.meta.dirname, '../../../docs/ERRORS.md'), 'utf8');
  const rows = new Map<string, { status: string; retry: string }[]>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !cells[1]!.startsWith('`')) continue;
    for (const code of cells[1]!.match(/`([a-z_]+)`/g) ?? []) {
      const name = code.slice(1, -1);
      rows.set(name, [...(rows.get(name) ?? []), { status: cells[2]!, retry: cells[3]! }]);
    }
  }
  return rows;
}

describe('error code registry', () => {
  it('docs/ERRORS.md lists every code with the same status and retry', () => {
    const documented = documentedCodes();
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, rows] of documented) {
      const info = ERROR_CODES[code as keyof typeof ERROR_CODES];
      for (const row of rows) {
        expect({ code, status: row.status === '—' ? 0 : Number(row.status) }).toEqual({ code, status: info.status });
        expect({ code, retryable: row.retry !== 'no' }).toEqual({ code, retryable: info.retryable });
      }
    }
  });

  it('decides retries by code first, then by status', () => {
    expect(isRetryableAnswer('key_unknown', 401)).toBe(true);
    expect(isRetryableAnswer('bad_signature', 401)).toBe(false);
    expect(isRetryableAnswer('something_new', 503)).toBe(true);
    expect(isRetryableAnswer('something_new', 400)).toBe(false);
  });
});
