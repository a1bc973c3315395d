// The stored form of a Job's outputs and the client's re-check against the receipt: every receipt output
// present with exactly its digest, nothing else, keys naming themselves.
import { describe, expect, it } from 'vitest';
import { outputsConfigMap, receiptHasOutputs } from '../../../src/controller/job-outputs.ts';
import { sha256Hex } from '../../../src/integrity/framed-output.ts';
import { jobOutputsName, OUTPUTS_INDEX_KEY, verifyStoredOutputs } from '../../../src/integrity/job-outputs.ts';
import type { Receipt } from '../../../src/api/receipt.ts';

const patch = Buffer.from('--- a/x\n+++ b/x\n');
const report = Buffer.from('<testsuite failures="0"/>');
const outputs = [
  { step: 1, name: 'patch', bytes: patch, sha256: sha256Hex(patch) },
  { step: 2, name: 'test-report', bytes: report, sha256: sha256Hex(report) },
];
const artifacts = [
  { path: 'outputs/1/patch', sha256: sha256Hex(patch) },
  { path: 'outputs/2/test-report', sha256: sha256Hex(report) },
];
const job = { namespace: 'team-a', name: 'fix-add', uid: 'u-1' };
type Stored = { data: Record<string, string>; binaryData: Record<string, string>; metadata: { name: string; ownerReferences: unknown[] } };
const stored = (): Stored => structuredClone(outputsConfigMap(job, outputs)) as unknown as Stored;

describe('job outputs', () => {
  it('are stored under their own keys with an index, owned by the Job, and verify against the receipt', () => {
    const cm = stored();
    expect(cm.metadata.name).toBe('m87-outputs-fix-add');
    expect(cm.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'Job', uid: 'u-1', controller: true })]);
    expect(Object.keys(cm.binaryData).sort()).toEqual(['1.patch', '2.test-report']);
    const verified = verifyStoredOutputs(cm, artifacts);
    expect(verified.map((o) => [o.path, o.bytes.toString()])).toEqual([
      ['outputs/1/patch', patch.toString()],
      ['outputs/2/test-report', report.toString()],
    ]);
  });

  it('refuses content that differs from the receipt, a missing or extra output, and a key that is not its own', () => {
    const changed = stored();
    changed.binaryData['1.patch'] = Buffer.from('--- a/y\n').toString('base64');
    expect(() => verifyStoredOutputs(changed, artifacts)).toThrow(/outputs\/1\/patch: content hashes/);
    expect(() => verifyStoredOutputs(stored(), [...artifacts, { path: 'outputs/3/extra', sha256: 'a'.repeat(64) }])).toThrow(/outputs\/3\/extra: in the Job's receipt but not stored/);
    expect(() => verifyStoredOutputs(stored(), artifacts.slice(0, 1))).toThrow(/outputs\/2\/test-report: stored but not in the Job's receipt/);
    const swapped = stored();
    const index = JSON.parse(swapped.data[OUTPUTS_INDEX_KEY]!) as { key: string }[];
    index[0]!.key = '2.test-report';
    swapped.data[OUTPUTS_INDEX_KEY] = JSON.stringify(index);
    expect(() => verifyStoredOutputs(swapped, artifacts)).toThrow(/does not name its own key/);
    expect(() => verifyStoredOutputs({ data: {} }, artifacts)).toThrow(/no outputs.json/);
  });

  it('a receipt without outputs/ artifacts needs no collection; long Job names are shortened', () => {
    expect(receiptHasOutputs({ artifacts: [{ path: 'NOTES.md', sha256: 'a'.repeat(64) }] } as Receipt)).toBe(false);
    expect(receiptHasOutputs({ artifacts } as Receipt)).toBe(true);
    expect(receiptHasOutputs(undefined)).toBe(false);
    const long = jobOutputsName('x'.repeat(253));
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^m87-outputs-x+-[0-9a-f]{16}$/);
  });
});
