import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Receipt, RECEIPT_MAX_BYTES } from '../../../src/api/receipt.ts';
import { REASON_CODES } from '../../../src/runner/codes.ts';
import { buildReceipt, type ReceiptInput } from '../../../src/runner/receipt.ts';

const hex = fc.stringMatching(/^[0-9a-f]{64}$/);

const input = fc.record({
  status: fc.constantFrom('Succeeded', 'Failed', 'Refused'),
  reasonCode: fc.constantFrom('', ...REASON_CODES),
  jobUID: fc.string({ maxLength: 200 }),
  deh: fc.record({ claimed: fc.string({ maxLength: 300 }), recomputed: fc.oneof(hex, fc.constant('')), verified: fc.boolean() }),
  steps: fc.array(
    fc.record({ tool: fc.string({ maxLength: 100 }), exitCode: fc.integer({ min: -1000, max: 1000 }), outputHash: fc.oneof(hex, fc.string({ maxLength: 80 })) }),
    { maxLength: 40 },
  ),
  usage: fc.record({
    steps: fc.nat(10000),
    toolCalls: fc.nat(1000),
    runtimeMs: fc.nat(3_600_000),
    externalIO: fc.nat(100),
  }),
  artifacts: fc.array(fc.record({ path: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 512 }), sha256: hex }), { maxLength: 40 }),
}) as fc.Arbitrary<ReceiptInput>;

describe('runner receipt', () => {
  it('is always at most 4096 bytes and always passes the Receipt schema', () => {
    fc.assert(
      fc.property(input, (i) => {
        const { receipt, json } = buildReceipt(i);
        expect(Buffer.byteLength(json, 'utf8')).toBeLessThanOrEqual(RECEIPT_MAX_BYTES);
        expect(Receipt.safeParse(JSON.parse(json)).success).toBe(true);
        expect(JSON.parse(json)).toEqual(receipt);
        const omitted = receipt.truncated ?? { stepsOmitted: 0, artifactsOmitted: 0 };
        expect(receipt.steps.length + omitted.stepsOmitted).toBe(i.steps.length);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps everything when it fits, with no truncation mark', () => {
    const { receipt } = buildReceipt({
      status: 'Succeeded',
      reasonCode: '',
      jobUID: 'uid',
      deh: { claimed: 'a'.repeat(64), recomputed: 'a'.repeat(64), verified: true },
      steps: [{ tool: 'echo', exitCode: 0, outputHash: 'b'.repeat(64) }],
      usage: { steps: 1, toolCalls: 1, runtimeMs: 12, externalIO: 0 },
      artifacts: [{ path: 'a.txt', sha256: 'c'.repeat(64) }],
    });
    expect(receipt.truncated).toBeUndefined();
    expect(receipt.steps).toHaveLength(1);
    expect(receipt.artifacts).toHaveLength(1);
  });

  it('drops steps from the end first, then artifacts, and says how many', () => {
    const steps = Array.from({ length: 32 }, (_, i) => ({ tool: 'write-file', exitCode: 0, outputHash: i.toString(16).padStart(64, '0') }));
    const artifacts = Array.from({ length: 16 }, (_, i) => ({ path: `dir/${'x'.repeat(200)}-${i}.txt`, sha256: 'd'.repeat(64) }));
    const { receipt, json } = buildReceipt({
      status: 'Succeeded',
      reasonCode: '',
      jobUID: 'uid',
      deh: { claimed: 'a'.repeat(64), recomputed: 'a'.repeat(64), verified: true },
      steps,
      usage: { steps: 32, toolCalls: 32, runtimeMs: 1000, externalIO: 0 },
      artifacts,
    });
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(RECEIPT_MAX_BYTES);
    expect(receipt.steps).toEqual([]);
    expect(receipt.artifacts).toEqual(artifacts.slice(0, receipt.artifacts.length));
    expect(receipt.truncated).toEqual({ stepsOmitted: 32, artifactsOmitted: 16 - receipt.artifacts.length });
    expect(receipt.status).toBe('Succeeded');
  });
});
