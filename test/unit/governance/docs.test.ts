import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_REASON_CODES, REASON_CODES } from '../../../src/governance/codes.ts';

const doc = readFileSync(new URL('../../../docs/policy.md', import.meta.url), 'utf8');

/** Rows of the reason-code table: | `CODE` | rule | outcome | field | example | */
const rows = new Map(
  doc
    .split('\n')
    .map((line) => /^\| `([A-Z][A-Z0-9_]*)` \| ([^|]+) \| ([^|]+) \|/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1] as string, { rule: (m[2] as string).trim(), outcome: (m[3] as string).trim() }]),
);

describe('docs/policy.md', () => {
  it('documents every reason code the engine can emit', () => {
    const missing = ALL_REASON_CODES.filter((c) => !rows.has(c));
    expect(missing).toEqual([]);
  });

  it('documents no code the engine does not have', () => {
    expect([...rows.keys()].filter((c) => !Object.hasOwn(REASON_CODES, c))).toEqual([]);
  });

  it('states the rule and outcome the code carries', () => {
    for (const code of ALL_REASON_CODES) {
      const row = rows.get(code);
      const info = REASON_CODES[code];
      expect(row?.rule, code).toBe(info.rule);
      if (info.outcomes.length === 1) expect(row?.outcome, code).toContain(info.outcomes[0]);
    }
  });
});
