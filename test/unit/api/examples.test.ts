import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { EXAMPLE_PROPOSAL_UID, exampleSigningKey, HAND_WRITTEN_EXAMPLES } from '../../../dev/codegen/examples.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import { AgentProfile, Approval, Decision, GovernancePolicy, Job, KINDS, Proposal, Tool, type KindName } from '../../../src/api/kinds.ts';
import { DEFAULT_AGENT_PROFILES, DEFAULT_POLICY_SPEC } from '../../../src/governance/defaults.ts';
import { envelopeHash, proposalHash } from '../../../src/integrity/document-hashes.ts';
import { verifyDeh } from '../../../src/integrity/signing.ts';

const DIR = join(import.meta.dirname, '..', '..', '..', 'examples');
const RESOURCES = { Proposal, Decision, Approval, Job, AgentProfile, GovernancePolicy, Tool } as const;

function documents(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    return d.toJS() as unknown;
  });
}

function only<T>(file: string, schema: { parse: (v: unknown) => T }): T {
  const docs = documents(file);
  expect(docs, file).toHaveLength(1);
  return schema.parse(docs[0]);
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('examples/', () => {
  it('has the expected files', () => {
    expect(files).toEqual([
      'agentprofiles.yaml',
      'approval.yaml',
      'decision.yaml',
      'governancepolicy.yaml',
      'job.yaml',
      'proposal-allow.yaml',
      'proposal-deploy.yaml',
      'proposal-secrets.yaml',
      'tools.yaml',
    ]);
    for (const f of HAND_WRITTEN_EXAMPLES) expect(files).toContain(f);
  });

  it.each(files)('%s: every document is valid for its kind (zod schemas)', (file) => {
    for (const doc of documents(file)) {
      const { apiVersion, kind } = doc as { apiVersion?: unknown; kind?: unknown };
      expect(apiVersion).toBe(API_VERSION);
      expect(Object.keys(KINDS)).toContain(kind);
      const result = RESOURCES[kind as KindName].safeParse(doc);
      expect(result.error?.issues ?? [], `${file}: ${JSON.stringify(result.error?.issues)}`).toEqual([]);
    }
  });

  it('covers every kind', () => {
    const kinds = new Set(files.flatMap((f) => documents(f).map((d) => (d as { kind: string }).kind)));
    expect([...kinds].sort()).toEqual(Object.keys(KINDS).sort());
  });

  it('the proposals show an allowed, an approval-needing and a secrets-reading request', () => {
    expect(only('proposal-allow.yaml', Proposal).spec.effects).toEqual(['READ_REPO', 'RUN_TESTS']);
    expect(only('proposal-deploy.yaml', Proposal).spec.effects).toContain('DEPLOY');
    expect(only('proposal-secrets.yaml', Proposal).spec.effects).toContain('READ_SECRETS');
  });
});

describe('the generated Decision, Approval and Job follow proposal-deploy.yaml', () => {
  const proposal = only('proposal-deploy.yaml', Proposal);
  const decision = only('decision.yaml', Decision);
  const approval = only('approval.yaml', Approval);
  const job = only('job.yaml', Job);
  const hash = proposalHash(proposal.spec);

  it('quote the real proposal hash and UID', () => {
    expect(decision.spec.proposalHash).toBe(hash);
    expect(approval.spec.proposalHash).toBe(hash);
    expect(job.spec.envelope.proposal.hash).toBe(hash);
    expect(decision.spec.proposalRef).toEqual({ name: proposal.metadata.name, uid: EXAMPLE_PROPOSAL_UID });
    expect(approval.spec).toMatchObject({ proposalName: proposal.metadata.name, proposalUID: EXAMPLE_PROPOSAL_UID });
    expect(job.spec.proposalRef).toEqual(decision.spec.proposalRef);
  });

  it('carry the real envelope hash (DEH), and the Job envelope is the decided one', () => {
    expect(job.spec.envelopeHash).toBe(envelopeHash(job.spec.envelope));
    expect(decision.spec.envelopeHash).toBe(job.spec.envelopeHash);
    expect(decision.spec.effectiveEnvelope).toEqual(job.spec.envelope);
  });

  it('the Job signature verifies with the example key over the DEH', () => {
    const key = exampleSigningKey();
    expect(job.spec.keyId).toBe(key.keyId);
    expect(verifyDeh(key.publicKeyPem, job.spec.envelopeHash, job.spec.signature)).toBe(true);
  });

  it('Decision and Job are named after and owned by the Proposal', () => {
    for (const obj of [decision, job]) {
      expect(obj.metadata.name).toBe(proposal.metadata.name);
      expect(obj.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Proposal', name: proposal.metadata.name, uid: EXAMPLE_PROPOSAL_UID }),
      ]);
    }
    expect(decision.spec.outcome).toBe('REQUIRE_HUMAN');
    expect(job.spec.envelope.humanApproved).toBe(true);
  });
});

describe('policy and profile examples come from src/governance/defaults.ts', () => {
  it('governancepolicy.yaml is the default policy', () => {
    const policy = only('governancepolicy.yaml', GovernancePolicy);
    expect(policy.metadata.name).toBe('default');
    expect(policy.spec).toEqual(GovernancePolicy.shape.spec.parse(DEFAULT_POLICY_SPEC));
  });

  it('agentprofiles.yaml holds every default profile', () => {
    const profiles = documents('agentprofiles.yaml').map((d) => AgentProfile.parse(d));
    expect(Object.fromEntries(profiles.map((p) => [p.metadata.name, p.spec]))).toEqual(
      Object.fromEntries(Object.entries(DEFAULT_AGENT_PROFILES).map(([n, s]) => [n, AgentProfile.shape.spec.parse(s)])),
    );
  });
});
