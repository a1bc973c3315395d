import { describe, expect, it } from 'vitest';
import type { Receipt } from '../../../src/api/receipt.ts';
import { podProgress, verifyReceipt, type JobFacts } from '../../../src/controller/receipt-check.ts';
import { sha256Hex } from '../../../src/hash/canonical.ts';
import { decisionFor, JOB_UID } from './fixtures.ts';

const decision = decisionFor();
const envelope = decision.spec.effectiveEnvelope!;
const deh = decision.spec.envelopeHash!;
const job: JobFacts = { uid: JOB_UID, envelopeHash: deh, envelope };

function receipt(overrides: Partial<Receipt> = {}): Receipt {
  return {
    v: 1,
    status: 'Succeeded',
    reasonCode: '',
    jobUID: JOB_UID,
    deh: { claimed: deh, recomputed: deh, verified: true },
    steps: envelope.steps.map((s) => ({ tool: s.tool, exitCode: 0, outputHash: sha256Hex('out') })),
    usage: { steps: envelope.steps.length, toolCalls: envelope.steps.length, runtimeMs: 1200, externalIO: 0 },
    artifacts: [{ path: 'out.txt', sha256: sha256Hex('hello') }],
    ...overrides,
  };
}

function check(r: unknown, exitCode = 0) {
  return verifyReceipt(job, { exitCode, message: typeof r === 'string' ? r : JSON.stringify(r), finishedAt: '2025-06-01T12:00:05Z' });
}

describe('receipt verification', () => {
  it('accepts a receipt that matches the Job, stays within budget and lists artifacts', () => {
    const r = check(receipt());
    expect(r.phase).toBe('Succeeded');
    expect(r.verification).toBe('verified');
    expect(r.envelopeVerified.status).toBe('True');
    expect(r.receipt?.artifacts).toHaveLength(1);
    expect(r.completionTime).toBe('2025-06-01T12:00:05Z');
  });

  it.each([
    ['no artifacts', receipt({ artifacts: [] }), 'NoArtifacts'],
    ['another job UID', receipt({ jobUID: 'someone-else' }), 'ReceiptJobMismatch'],
    ['another DEH', receipt({ deh: { claimed: sha256Hex('x'), recomputed: sha256Hex('x'), verified: true } }), 'ReceiptDehMismatch'],
    ['unverified envelope', receipt({ deh: { claimed: deh, recomputed: deh, verified: false } }), 'ENVELOPE_NOT_VERIFIED'],
    ['a refusal', receipt({ status: 'Refused', reasonCode: 'SIGNATURE_INVALID', deh: { claimed: deh, recomputed: deh, verified: false }, steps: [] }), 'SIGNATURE_INVALID'],
    ['too many tool calls', receipt({ usage: { steps: 1, toolCalls: 10_000, runtimeMs: 1, externalIO: 0 } }), 'BudgetExceeded'],
    ['too long a runtime', receipt({ usage: { steps: 1, toolCalls: 1, runtimeMs: (envelope.autonomyBudget.maxRuntimeSeconds + 1) * 1000, externalIO: 0 } }), 'BudgetExceeded'],
    ['more steps than the envelope', receipt({ steps: [...receipt().steps, ...receipt().steps] }), 'BudgetExceeded'],
    ['a step the envelope does not have', receipt({ steps: [{ tool: 'shell', exitCode: 0, outputHash: sha256Hex('x') }] }), 'ReceiptStepMismatch'],
    ['missing steps', receipt({ steps: [] }), 'ReceiptIncomplete'],
    ['a failed step claimed as success', receipt({ steps: receipt().steps.map((s) => ({ ...s, exitCode: 1 })) }), 'ReceiptInconsistent'],
    ['a failed run', receipt({ status: 'Failed', reasonCode: 'STEP_FAILED' }), 'STEP_FAILED'],
  ])('fails a receipt with %s', (_what, r, reason) => {
    const result = check(r);
    expect(result.phase).toBe('Failed');
    expect(result.reason).toBe(reason);
  });

  it('fails success with a non-zero exit code', () => {
    expect(check(receipt(), 1)).toMatchObject({ phase: 'Failed', reason: 'ExitCodeMismatch' });
  });

  it('fails missing, malformed, schema-invalid and oversize receipts', () => {
    expect(check('')).toMatchObject({ phase: 'Failed', reason: 'ReceiptMissing', verification: 'missing' });
    expect(check('{not json')).toMatchObject({ phase: 'Failed', reason: 'ReceiptInvalid', verification: 'invalid' });
    expect(check({ ...receipt(), v: 2 })).toMatchObject({ phase: 'Failed', reason: 'ReceiptInvalid' });
    expect(check(JSON.stringify(receipt()) + ' '.repeat(5000))).toMatchObject({ phase: 'Failed', reason: 'ReceiptInvalid' });
  });

  it('reads the runner container of a Pod: pending, running, terminated, or failed without a result', () => {
    expect(podProgress(job, { status: { phase: 'Pending' } })).toEqual({ state: 'pending' });
    expect(podProgress(job, { status: { phase: 'Running', containerStatuses: [{ name: 'runner', state: { running: { startedAt: 't' } } }] } })).toEqual({
      state: 'running',
      startedAt: 't',
    });
    const done = podProgress(job, {
      status: { phase: 'Succeeded', containerStatuses: [{ name: 'runner', state: { terminated: { exitCode: 0, message: JSON.stringify(receipt()) } } }] },
    });
    expect(done).toMatchObject({ state: 'finished', result: { phase: 'Succeeded' } });
    expect(podProgress(job, { status: { phase: 'Failed', reason: 'DeadlineExceeded', message: 'Pod was active too long' } })).toMatchObject({
      state: 'finished',
      result: { phase: 'Failed', reason: 'DeadlineExceeded' },
    });
  });
});
