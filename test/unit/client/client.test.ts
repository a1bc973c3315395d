// The typed client's own logic, without a cluster: how answers are parsed (anything the schema refuses is
// an error naming the field), how API errors map to reasons, how drafts are checked before sending, how
// the three objects of a proposal combine into one state, and where credentials come from.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import {
  assertSubmitter,
  checkDraft,
  fieldPath,
  fromApiError,
  loadConnection,
  M87Client,
  M87ClientError,
  MAX_PROPOSAL_BYTES,
  proposalState,
  type ObjectOf,
} from '../../../src/client/index.ts';
import { apiError } from '../../../src/runtime/kube-http.ts';

const ROOT = join(import.meta.dirname, '../../..');
const example = <T>(file: string): T => parse(readFileSync(join(ROOT, 'examples', file), 'utf8')) as T;
const client = new M87Client(new KubeConfig());

function thrown(fn: () => unknown): M87ClientError {
  try {
    fn();
  } catch (err) {
    if (err instanceof M87ClientError) return err;
    throw err;
  }
  throw new Error('expected an M87ClientError');
}

describe('field paths', () => {
  it('reads like the object: dots for fields, brackets for list items', () => {
    expect(fieldPath(['steps', 0, 'args', 'path'], 'spec')).toBe('spec.steps[0].args.path');
    expect(fieldPath([], '')).toBe('(root)');
  });
});

describe('parsing answers', () => {
  it('returns the parsed object when the schema accepts it', () => {
    const decision = client.parse('Decision', example('decision.yaml'), 'Decision x');
    expect(decision.spec.outcome).toBeDefined();
  });

  it('refuses an answer the schema refuses and names the field', () => {
    const bad = example<{ spec: Record<string, unknown> }>('decision.yaml');
    bad.spec.outcome = 'MAYBE';
    const err = thrown(() => client.parse('Decision', bad, 'Decision team-a/x'));
    expect(err.reason).toBe('InvalidResponse');
    expect(err.field).toBe('spec.outcome');
    expect(err.message).toContain('Decision team-a/x');
    expect(err.message).toContain('spec.outcome:');
  });
});

describe('API errors', () => {
  const req = { method: 'POST' as const, path: '/apis/governance.m87.io/v1alpha1/namespaces/a/proposals' };
  const status = (code: number, reason: string, message: string, details?: unknown) =>
    apiError(req, code, JSON.stringify({ kind: 'Status', status: 'Failure', code, reason, message, ...(details ? { details } : {}) }));

  it.each([
    [401, 'Unauthorized', 'Unauthorized'],
    [403, 'Forbidden', 'Forbidden'],
    [404, 'NotFound', 'NotFound'],
    [409, 'AlreadyExists', 'AlreadyExists'],
    [409, 'Conflict', 'Conflict'],
    [410, 'Expired', 'Expired'],
    [500, 'InternalError', 'Unavailable'],
  ])('HTTP %i (%s) → %s', (code, reason, expected) => {
    expect(fromApiError(status(code, reason, 'x'), 'create Proposal a/p').reason).toBe(expected);
  });

  it('a 422 names the fields the API server names', () => {
    const err = fromApiError(
      status(422, 'Invalid', 'Proposal.governance.m87.io "p" is invalid', { causes: [{ field: 'spec.effects[0]', message: 'Unsupported value: "FLY"' }] }),
      'create Proposal a/p',
    );
    expect(err.reason).toBe('Invalid');
    expect(err.field).toBe('spec.effects[0]');
    expect(err.message).toContain('spec.effects[0]: Unsupported value: "FLY"');
  });

  it('a 403 carries the admission message (who was expected)', () => {
    const err = fromApiError(status(403, 'Forbidden', 'spec.submittedBy must equal the caller: expected "a"'), 'create Proposal a/p');
    expect(err.message).toContain('expected "a"');
    expect(err.status).toBe(403);
  });

  it('no HTTP answer at all is Unavailable', () => {
    expect(fromApiError(new Error('connect ECONNREFUSED 127.0.0.1:1'), 'get Proposal a/p').reason).toBe('Unavailable');
  });
});

describe('checking a draft before sending', () => {
  const { submittedBy: _s, ...draft } = example<{ spec: Record<string, unknown> }>('proposal-allow.yaml').spec;

  it('accepts a valid draft', () => {
    expect(checkDraft(draft).agent).toBe('casey');
  });

  it('names the missing or wrong field as spec.<path>', () => {
    const { summary: _x, ...noSummary } = draft;
    expect(thrown(() => checkDraft(noSummary)).field).toBe('spec.summary');
    const wrongTool = { ...draft, steps: [{ tool: 'Shell!' }] };
    const err = thrown(() => checkDraft(wrongTool));
    expect(err.reason).toBe('Invalid');
    expect(err.field).toBe('spec.steps[0].tool');
  });

  it('refuses unknown top-level fields (a misspelt field would otherwise vanish)', () => {
    expect(thrown(() => checkDraft({ ...draft, riskScor: 0.1 })).message).toContain('riskScor');
  });

  it('refuses an oversize proposal before parsing it', () => {
    const huge = { ...draft, artifacts: Array.from({ length: 2 }, () => ({ type: 'file', content: 'x'.repeat(MAX_PROPOSAL_BYTES / 2) })) };
    const err = thrown(() => checkDraft(huge));
    expect(err.reason).toBe('TooLarge');
    expect(err.message).toContain(`at most ${MAX_PROPOSAL_BYTES}`);
  });

  it('refuses what is not an object', () => {
    expect(thrown(() => checkDraft(['a'])).field).toBe('spec');
  });
});

describe('identity', () => {
  it('anonymous credentials may not submit', () => {
    expect(thrown(() => assertSubmitter({ username: 'system:anonymous', groups: ['system:unauthenticated'] })).reason).toBe('Unauthorized');
    expect(() => assertSubmitter({ username: 'system:serviceaccount:a:casey', groups: ['system:serviceaccounts'] })).not.toThrow();
  });
});

describe('proposal state', () => {
  const proposal = (phase: string | undefined, approvals = 0): ObjectOf<'Proposal'> => {
    const p = example<ObjectOf<'Proposal'>>('proposal-deploy.yaml');
    return {
      ...p,
      metadata: { name: 'p', namespace: 'a', uid: 'u1' },
      status: { ...(phase ? { phase } : {}), approvalRefs: Array.from({ length: approvals }, (_, i) => ({ name: `x${i}`, uid: `y${i}` })) },
    } as ObjectOf<'Proposal'>;
  };
  const decision = (uid: string, outcome: string): ObjectOf<'Decision'> => {
    const d = example<ObjectOf<'Decision'>>('decision.yaml');
    return { ...d, spec: { ...d.spec, outcome, proposalRef: { name: 'p', uid }, requiredApprovals: { count: 1 } } } as ObjectOf<'Decision'>;
  };

  it('awaiting a human: the decision with its reasons, approval pending, not final', () => {
    const s = proposalState(proposal('AwaitingApproval'), decision('u1', 'REQUIRE_HUMAN'), undefined);
    expect(s.decision?.outcome).toBe('REQUIRE_HUMAN');
    expect(s.approval).toEqual({ state: 'pending', required: 1, accepted: 0 });
    expect(s.final).toBe(false);
  });

  it('a decision of an earlier incarnation of the name is not this proposal\'s', () => {
    const s = proposalState(proposal('Pending'), decision('old-uid', 'DENY'), undefined);
    expect(s.decision).toBeUndefined();
    expect(s.approval.state).toBe('unknown');
  });

  it('denied is final and needs no approval; approved-and-run counts the approvals', () => {
    expect(proposalState(proposal('Denied'), decision('u1', 'DENY'), undefined)).toMatchObject({ final: true, approval: { state: 'not-required' } });
    expect(proposalState(proposal('Succeeded', 1), decision('u1', 'REQUIRE_HUMAN'), undefined)).toMatchObject({ final: true, approval: { state: 'approved', accepted: 1 } });
    expect(proposalState(proposal(undefined), undefined, undefined)).toMatchObject({ phase: 'Submitted', final: false });
  });
});

describe('where credentials come from', () => {
  const dir = mkdtempSync(join(tmpdir(), 'm87-client-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'config');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'agent', context: { cluster: 'c', user: 'u', namespace: 'team-a' } }],
      'current-context': 'agent',
    }),
  );
  const empty = { HOME: dir } as NodeJS.ProcessEnv; // no $KUBECONFIG, no ~/.kube/config, not in a Pod

  it('finding nothing is an error that says what to do, not a silent localhost fallback', () => {
    const err = thrown(() => loadConnection({}, empty));
    expect(err.reason).toBe('NoCredentials');
    expect(err.message).toMatch(/--kubeconfig.*KUBECONFIG.*ServiceAccount token/);
  });

  it('a named kubeconfig that does not exist, or a context it lacks, is an error', () => {
    expect(thrown(() => loadConnection({ kubeconfig: join(dir, 'nope') }, empty)).reason).toBe('NoCredentials');
    expect(thrown(() => loadConnection({ kubeconfig, context: 'other' }, empty)).message).toContain('no context "other"');
  });

  it('the namespace comes from the flag, then the context', () => {
    expect(loadConnection({ kubeconfig }, empty).namespace).toBe('team-a');
    expect(loadConnection({ kubeconfig, namespace: 'x' }, empty).namespace).toBe('x');
    expect(loadConnection({}, { ...empty, KUBECONFIG: kubeconfig }).source).toContain('$KUBECONFIG');
  });
});
