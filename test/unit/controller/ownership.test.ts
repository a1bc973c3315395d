// One owner per object: each status has one writer, and the objects that make up a submitter's session
// (Decisions and Jobs) are created in one place, the submitter's queue. Read from the source, so a second
// writer cannot come back unnoticed.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '../../../src/controller');
const sources = readdirSync(DIR)
  .filter((f) => f.endsWith('.ts'))
  .map((file) => ({ file, text: readFileSync(join(DIR, file), 'utf8') }));

/** Files that call `fn` with `resource` as the resource argument. */
function writers(fn: 'patchStatus' | 'patchObject' | 'createIfAbsent', resource: string): string[] {
  const call = new RegExp(`${fn}<[^>]*>\\(\\s*[\\w.#]+,\\s*${resource}\\b`);
  return sources.filter((s) => call.test(s.text)).map((s) => s.file);
}

describe('who writes what in the controller', () => {
  it('Proposal.status has one writer: the proposals reconciler', () => {
    expect(writers('patchStatus', 'PROPOSALS')).toEqual(['proposal-reconciler.ts']);
  });

  it('Approval.status and ownership: the proposals reconciler', () => {
    expect(writers('patchStatus', 'APPROVALS')).toEqual(['proposal-reconciler.ts']);
    expect(writers('patchObject', 'APPROVALS')).toEqual(['proposal-reconciler.ts']);
  });

  it('Job.status: the jobs reconciler; GovernancePolicy.status: the policy reconciler', () => {
    expect(writers('patchStatus', 'JOBS')).toEqual(['job-reconciler.ts']);
    expect(writers('patchStatus', 'GOVERNANCE_POLICIES')).toEqual(['policy-reconciler.ts']);
  });

  it("Decisions and Jobs are created in one place, the submitter's queue, with no lock shared between controllers", () => {
    expect(writers('createIfAbsent', 'DECISIONS')).toEqual(['decider.ts']);
    expect(writers('createIfAbsent', 'JOBS')).toEqual(['decider.ts']);
    expect(sources.filter((s) => /\bKeyedMutex\b|submitterLocks/.test(s.text)).map((s) => s.file)).toEqual([]);
  });
});
