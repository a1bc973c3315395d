// The audit record of a pruned proposal tree (src/controller/audit-record.ts, schema src/api/audit.ts) and its
// sinks (src/controller/audit-log.ts): complete, schema-checked, refused when the tree cannot be described.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { AUDIT_SCHEMA, AuditRecord } from '../../../src/api/audit.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import type { Receipt } from '../../../src/api/receipt.ts';
import { AuditLog } from '../../../src/controller/audit-log.ts';
import { AuditRecordError, buildAuditRecord } from '../../../src/controller/audit-record.ts';
import { buildJob } from '../../../src/controller/minting.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { CASEY, decisionFor, evaluationInput, JOB_UID, NOW, PROPOSAL_UID, proposalRef, signingKey, spec } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'm87-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RECEIPT: Receipt = {
  v: 1,
  status: 'Succeeded',
  reasonCode: '',
  jobUID: JOB_UID,
  deh: { claimed: 'a'.repeat(64), recomputed: 'a'.repeat(64), verified: true },
  steps: [{ tool: 'file_write', exitCode: 0, outputHash: 'b'.repeat(64) }],
  usage: { steps: 1, toolCalls: 1, runtimeMs: 12, externalIO: 0 },
  artifacts: [{ path: 'out.txt', sha256: 'c'.repeat(64) }],
};

function tree(): { proposal: KubeObject; decision: KubeObject; approvals: KubeObject[]; job: KubeObject } {
  const input = evaluationInput(spec({ riskScore: 0.9 }), 'risky');
  const decision = decisionFor(input);
  expect(decision.spec.outcome).toBe('REQUIRE_HUMAN');
  const ref = proposalRef(input);
  const approval: KubeObject = {
    apiVersion: API_VERSION,
    kind: 'Approval',
    metadata: { name: 'risky-bob', namespace: 'team-a', uid: 'appr-1' },
    spec: { proposalName: 'risky', proposalUID: PROPOSAL_UID, proposalHash: ref.hash, verdict: 'Approve', approver: 'bob' },
    status: { state: 'Accepted', reason: 'Accepted', evaluatedAt: '2025-06-01T12:01:00Z' },
  };
  const job = buildJob({ proposal: ref, decision, approvalRefs: [{ name: 'risky-bob', uid: 'appr-1' }], signingKey: signingKey() }) as unknown as KubeObject;
  const finished: KubeObject = {
    ...job,
    metadata: { ...job.metadata, uid: JOB_UID },
    status: { phase: 'Succeeded', reason: 'Succeeded', completionTime: '2025-06-01T12:02:00Z', receipt: RECEIPT },
  };
  const proposal: KubeObject = {
    apiVersion: API_VERSION,
    kind: 'Proposal',
    metadata: { name: 'risky', namespace: 'team-a', uid: PROPOSAL_UID, creationTimestamp: '2025-06-01T11:59:59Z' },
    spec: input.proposal.spec,
    status: { phase: 'Succeeded', proposalHash: ref.hash },
  };
  return { proposal, decision: decision as unknown as KubeObject, approvals: [approval], job: finished };
}

describe('buildAuditRecord', () => {
  it('describes the whole tree: proposal hash, decision and every reason, policy hash, approvers and verdicts, envelope hash, result, receipt and output digests', () => {
    const t = tree();
    const record = buildAuditRecord(t, 'HistoryTTL', new Date(NOW));
    expect(AuditRecord.parse(record)).toEqual(record);
    const decision = t.decision.spec as { reasons: unknown[]; policy: { hash: string }; envelopeHash: string };
    expect(record).toMatchObject({
      schema: AUDIT_SCHEMA,
      event: 'ProposalTreeDeleted',
      reason: 'HistoryTTL',
      recordedAt: new Date(NOW).toISOString().replace('.000Z', 'Z'),
      proposal: { namespace: 'team-a', name: 'risky', uid: PROPOSAL_UID, hash: proposalRef(evaluationInput(spec({ riskScore: 0.9 }), 'risky')).hash, submittedBy: CASEY, agent: 'casey', phase: 'Succeeded' },
      decision: { outcome: 'REQUIRE_HUMAN', policyHash: decision.policy.hash, envelopeHash: decision.envelopeHash },
      approvals: [{ name: 'risky-bob', approver: 'bob', verdict: 'Approve', state: 'Accepted', reason: 'Accepted', evaluatedAt: '2025-06-01T12:01:00Z' }],
      job: { uid: JOB_UID, envelopeHash: decision.envelopeHash, phase: 'Succeeded', receiptDigest: canonicalHash(RECEIPT), outputs: [{ path: 'out.txt', sha256: 'c'.repeat(64) }] },
    });
    expect(record.decision.reasons).toEqual(decision.reasons);
    expect(record.decision.reasons.length).toBeGreaterThan(0);
  });

  it('a tree without a Job (DENY) records job null', () => {
    const t = tree();
    const record = buildAuditRecord({ ...t, approvals: [], job: undefined }, 'NamespaceCap', new Date(NOW));
    expect(record.job).toBeNull();
    expect(record.approvals).toEqual([]);
  });

  it('refuses (nothing may be deleted) when a part cannot be described', () => {
    const t = tree();
    expect(() => buildAuditRecord({ ...t, decision: { ...t.decision, spec: { outcome: 'ALLOW' } } }, 'HistoryTTL', new Date(NOW))).toThrow(AuditRecordError);
    expect(() => buildAuditRecord({ ...t, job: { ...t.job, status: { phase: 'Succeeded', receipt: { v: 2 } } } }, 'HistoryTTL', new Date(NOW))).toThrow(AuditRecordError);
    expect(() => buildAuditRecord({ ...t, approvals: [{ ...t.approvals[0]!, spec: {} }] }, 'HistoryTTL', new Date(NOW))).toThrow(AuditRecordError);
  });
});

describe('AuditLog', () => {
  it('appends one JSON line per record to the file (never truncating) and logs it', async () => {
    const lines: string[] = [];
    const path = join(dir, 'audit.jsonl');
    const record = buildAuditRecord(tree(), 'HistoryTTL', new Date(NOW));
    for (let round = 0; round < 2; round++) {
      // A new sink (a restarted controller) appends to what is there.
      const sink = new AuditLog(pino({}, { write: (l: string) => void lines.push(l) }), path);
      await sink.write(record);
      await sink.write({ ...record, reason: 'NamespaceCap' });
      await sink.close();
    }
    const stored = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => AuditRecord.parse(JSON.parse(l)));
    expect(stored.map((r) => r.reason)).toEqual(['HistoryTTL', 'NamespaceCap', 'HistoryTTL', 'NamespaceCap']);
    expect(stored[0]).toEqual(record);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; audit: unknown });
    expect(logged).toHaveLength(4);
    expect(logged.every((l) => l.msg === 'Audit record')).toBe(true);
    expect(logged[0]!.audit).toEqual(record);
  });

  it('rejects when the file cannot be written, and logs nothing then (the caller deletes nothing)', async () => {
    const lines: string[] = [];
    const sink = new AuditLog(pino({}, { write: (l: string) => void lines.push(l) }), join(dir, 'missing-dir', 'audit.jsonl'));
    await expect(sink.write(buildAuditRecord(tree(), 'HistoryTTL', new Date(NOW)))).rejects.toThrow(/ENOENT/);
    expect(lines).toEqual([]);
    await sink.close();
  });

  it('refuses a record that does not match the schema', () => {
    const sink = new AuditLog(pino({ level: 'silent' }));
    const record = buildAuditRecord(tree(), 'HistoryTTL', new Date(NOW));
    expect(() => sink.write({ ...record, schema: 'm87.audit/v0' as typeof AUDIT_SCHEMA })).toThrow();
  });
});
