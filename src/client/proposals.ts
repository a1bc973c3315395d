// Submitting a Proposal on behalf of whoever the credentials are. The caller never names itself:
// spec.submittedBy is filled from a SelfSubjectReview (the chart's MutatingAdmissionPolicy would fill it
// too where the API server serves that API; doing it here works on every cluster), and a submittedBy that
// is not the caller is refused before anything is sent (admission would refuse it as well).
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import { API_VERSION } from '../api/group.ts';
import { ProposalSpec } from '../api/proposal.ts';
import { objectName } from '../api/primitives.ts';
import type { M87Client, Identity } from './client.ts';
import type { ObjectOf } from './resources.ts';
import { describeIssues, M87ClientError } from './errors.ts';

/** Largest proposal spec accepted (JSON bytes): generous for steps, evidence and inline patches. */
export const MAX_PROPOSAL_BYTES = 256 * 1024;

/**
 * What a submitter writes: the Proposal spec without submittedBy. Unknown top-level fields are refused
 * (a misspelt optional field would otherwise vanish silently).
 */
export const ProposalDraft = ProposalSpec.omit({ submittedBy: true }).strict();
export type ProposalDraft = z.input<typeof ProposalDraft>;

export interface SubmitOptions {
  namespace: string;
  /** Object name; default `<agent>-<intent id>-<random>` (a DNS-1123 name). */
  name?: string | undefined;
  /** Who the credentials are, when the caller already asked (saves a SelfSubjectReview). */
  identity?: Identity;
  dryRun?: boolean;
}

const ANONYMOUS = 'system:anonymous';
const PROPOSAL_NAME = objectName('Proposal name.');

/** Refuses identities that must never submit: anonymous requests carry no one's authority. */
export function assertSubmitter(identity: Identity): void {
  if (identity.username === ANONYMOUS || identity.groups.includes('system:unauthenticated')) {
    throw new M87ClientError('Unauthorized', `the credentials are anonymous (${identity.username}): a proposal needs an authenticated identity (an agent's ServiceAccount token or a user's credentials)`);
  }
}

function slug(s: string, max: number): string {
  return s.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, max).replace(/-+$/, '');
}

export function defaultProposalName(agent: string, intentId: string): string {
  const base = [slug(agent, 40), slug(intentId, 40)].filter((s) => s !== '').join('-') || 'proposal';
  return `${base}-${randomBytes(3).toString('hex')}`;
}

/** Checks a draft (or a full spec) locally; errors name the field as spec.<path>. Returns the draft's input form. */
export function checkDraft(draft: unknown): ProposalDraft {
  if (draft === null || typeof draft !== 'object' || Array.isArray(draft)) {
    throw new M87ClientError('Invalid', 'spec: a proposal must be an object', { field: 'spec' });
  }
  const bytes = Buffer.byteLength(JSON.stringify(draft), 'utf8');
  if (bytes > MAX_PROPOSAL_BYTES) {
    throw new M87ClientError('TooLarge', `spec: the proposal is ${bytes} bytes of JSON; at most ${MAX_PROPOSAL_BYTES} are accepted (put large content in the repository, not inline)`, { field: 'spec' });
  }
  const r = ProposalDraft.safeParse(draft);
  if (!r.success) {
    const d = describeIssues(r.error.issues, 'spec');
    throw new M87ClientError('Invalid', `the proposal is not valid:\n${d.text}`, { field: d.field });
  }
  return draft as ProposalDraft;
}

/**
 * Creates a Proposal as the caller. `spec` may carry submittedBy only if it is the caller (kubectl-style
 * manifests); otherwise it is filled in. Returns the created object as the API server stored it.
 */
export async function submitProposal(client: M87Client, spec: ProposalDraft & { submittedBy?: string }, opts: SubmitOptions): Promise<ObjectOf<'Proposal'>> {
  const { submittedBy, ...rest } = spec;
  const draft = checkDraft(rest);
  const identity = opts.identity ?? (await client.whoAmI());
  assertSubmitter(identity);
  if (submittedBy !== undefined && submittedBy !== identity.username) {
    throw new M87ClientError('Forbidden', `spec.submittedBy: "${submittedBy}" is not the caller; the credentials are ${identity.username} (leave submittedBy out: it is filled in)`, {
      field: 'spec.submittedBy',
    });
  }
  const name = opts.name ?? defaultProposalName(draft.agent, draft.intent.id);
  if (!PROPOSAL_NAME.safeParse(name).success) {
    throw new M87ClientError('Invalid', `metadata.name: "${name}" is not a valid name (lower-case letters, digits, "-" and ".", at most 253)`, { field: 'metadata.name' });
  }
  const body = {
    apiVersion: API_VERSION,
    kind: 'Proposal',
    metadata: { name, namespace: opts.namespace },
    spec: { ...draft, submittedBy: identity.username },
  };
  return client.create('Proposal', body, { ...(opts.dryRun === true ? { dryRun: true } : {}) });
}
