// Proposals for the bursts, created by agent ServiceAccounts (retrying through outages), and the engine's
// verdict on a stored Proposal computed locally with evaluate() from the same inputs the controller uses.
import type { KubeConfig } from '@kubernetes/client-node';
import { AgentProfileSpec } from '../../../src/api/agent-profile.ts';
import type { Outcome } from '../../../src/api/decision.ts';
import { API_VERSION } from '../../../src/api/group.ts';
import { GovernancePolicySpec } from '../../../src/api/governance-policy.ts';
import { Proposal } from '../../../src/api/kinds.ts';
import type { ProposalSpecInput } from '../../../src/api/proposal.ts';
import { AGENT_PROFILES, GOVERNANCE_POLICIES, PROPOSALS } from '../../../src/controller/resources.ts';
import { canonicalHash } from '../../../src/hash/canonical.ts';
import { evaluate } from '../../../src/governance/evaluate.ts';
import type { EvaluationResult } from '../../../src/governance/types.ts';
import { errorCode, errorReason, getObject, kubeRequest } from '../../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../../src/runtime/resource.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { TEST_CATALOGUE } from '../../support/tool-catalogue.ts';
import { admin, RUNNER_IMAGE, type Agent, type ChaosEnv } from './env.ts';

export type Template = 'allow' | 'deny' | 'human' | 'evidence';

/** Mostly allowed work (it exercises Job → NetworkPolicy → Pod), with every other outcome mixed in. */
const MIX: readonly Template[] = ['allow', 'allow', 'deny', 'allow', 'human', 'allow', 'evidence', 'allow'];

export function templateOf(index: number): Template {
  return MIX[index % MIX.length] ?? 'allow';
}

export function burstSpec(env: ChaosEnv, agent: Agent, template: Template, label: string): ProposalSpecInput {
  const base: ProposalSpecInput = {
    agent: env.profileName,
    submittedBy: agent.username,
    summary: `Write ${label}`,
    intent: { id: label, goal: `Write ${label}`, mode: 'build' },
    effects: ['WRITE_PATCH'],
    steps: [{ tool: 'write-file', args: { path: `notes/${label}.md`, content: label } }],
    artifacts: [],
    truthAccount: { observations: [`notes/${label}.md does not exist yet`], claims: [{ text: 'the note is missing', confidence: 0.9 }] },
    riskScore: 0.2,
    reversibility: { class: 'REVERSIBLE', rollbackProof: { description: `delete notes/${label}.md` }, executionMode: 'commit', cleanupCost: 'LOW' },
  };
  switch (template) {
    case 'allow':
      return base;
    case 'deny':
      return { ...base, effects: ['READ_SECRETS', 'WRITE_PATCH'] };
    case 'human':
      return { ...base, riskScore: 0.95 };
    case 'evidence':
      return { ...base, truthAccount: { observations: [], claims: [] } };
    default: {
      const never: never = template;
      throw new Error(`unknown template ${String(never)}`);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A freshly started API server answers 401/403 until its authentication and RBAC caches are filled, and an agent
 * whose previous request succeeded may send its next one into exactly that window without ever seeing the outage
 * itself. So the outage is remembered across calls and agents (and announced by a test that restarts the API
 * server): 401/403 within this long after it are "still warming", not a verdict.
 */
const WARMING_MS = 30_000;
let lastOutageAt = -Infinity;

/** A test is about to restart the API server: treat 401/403 as warming for the next WARMING_MS. */
export function noteApiOutage(): void {
  lastOutageAt = performance.now();
}

/** Worth retrying: the API is down, restarting, overloaded, or a timeout. */
function transient(err: unknown): boolean {
  const code = errorCode(err);
  if (code === undefined) return true; // connection refused/reset, TLS, timeout
  return code === 429 || code >= 500;
}

export interface Created {
  readonly name: string;
  readonly uid: string;
  readonly template: Template;
  readonly agent: string;
  /** Retries it took (API unavailable). */
  readonly retries: number;
}

/**
 * Creates one Proposal as the agent, retrying through outages until deadlineMs. A create that succeeded on the
 * server while its response was lost comes back as AlreadyExists: then the stored object is ours (same spec).
 */
export async function createProposal(
  kc: KubeConfig,
  namespace: string,
  name: string,
  spec: ProposalSpecInput,
  deadlineMs = 120_000,
): Promise<{ object: KubeObject; retries: number }> {
  const deadline = performance.now() + deadlineMs;
  const body = { apiVersion: API_VERSION, kind: 'Proposal', metadata: { name, namespace }, spec };
  for (let retries = 0; ; retries++) {
    try {
      const object = await kubeRequest<KubeObject>(kc, { method: 'POST', path: resourcePath(PROPOSALS, { namespace }), body, timeoutMs: 15_000 });
      return { object, retries };
    } catch (err) {
      if (errorReason(err) === 'AlreadyExists' && retries > 0) {
        const existing = await getObject(kc, PROPOSALS, { namespace, name });
        if (existing !== undefined && (existing.spec as { summary?: unknown }).summary === spec.summary) return { object: existing, retries };
      }
      if (transient(err)) noteApiOutage();
      const warming = (errorCode(err) === 401 || errorCode(err) === 403) && performance.now() - lastOutageAt < WARMING_MS;
      if (!(transient(err) || warming) || performance.now() > deadline) throw err;
      await sleep(Math.min(1000, 100 * 2 ** Math.min(retries, 4)));
    }
  }
}

/**
 * Creates names.length proposals (template by index, agents round-robin) with `concurrency` agents at work.
 * Resolves with what was created, in creation order.
 */
export async function createBurst(
  env: ChaosEnv,
  names: readonly string[],
  opts: { concurrency?: number; firstIndex?: number; onCreated?: (c: Created) => void } = {},
): Promise<Created[]> {
  const created: Created[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const i = next++;
      const name = names[i] ?? '';
      const index = (opts.firstIndex ?? 0) + i;
      const agent = env.agents[index % env.agents.length];
      if (agent === undefined) throw new Error('no agents');
      const template = templateOf(index);
      const { object, retries } = await createProposal(agent.kubeConfig, env.namespace, name, burstSpec(env, agent, template, name));
      const c: Created = { name, uid: object.metadata.uid ?? '', template, agent: agent.username, retries };
      created.push(c);
      opts.onCreated?.(c);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 6, names.length) }, worker));
  return created;
}

export function burstNames(prefix: string, count: number, first = 0): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(first + i).padStart(4, '0')}`);
}

export type LocalVerdict =
  | { readonly kind: 'unparseable'; readonly error: string }
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'decided'; readonly outcome: Outcome; readonly hash: string; readonly result: EvaluationResult };

/** The GovernancePolicy as the engine sees it (parsed spec, generation, hash of the parsed spec). */
export async function policyInput(env: ChaosEnv): Promise<{ spec: GovernancePolicySpec; generation: number; hash: string }> {
  const obj = await getObject(admin, GOVERNANCE_POLICIES, { name: env.policyName });
  if (obj === undefined) throw new Error(`GovernancePolicy ${env.policyName} is gone`);
  const spec = GovernancePolicySpec.parse(obj.spec);
  return { spec, generation: typeof obj.metadata.generation === 'number' ? obj.metadata.generation : 0, hash: canonicalHash(spec) };
}

const profiles = new Map<string, AgentProfileSpec | undefined>();

async function profileOf(name: string): Promise<AgentProfileSpec | undefined> {
  if (!profiles.has(name)) {
    const obj = await getObject(admin, AGENT_PROFILES, { name });
    const parsed = obj === undefined ? undefined : AgentProfileSpec.safeParse(obj.spec);
    profiles.set(name, parsed?.success === true ? parsed.data : undefined);
  }
  return profiles.get(name);
}

/**
 * What the engine alone decides for a stored Proposal: same policy, the named profile, an empty (known) session.
 * The controller's session can only add findings (toxic pairs), so its outcome is at least this severe.
 */
export async function localVerdict(env: ChaosEnv, stored: KubeObject, policy?: Awaited<ReturnType<typeof policyInput>>): Promise<LocalVerdict> {
  const parsed = Proposal.safeParse(stored);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { kind: 'unparseable', error: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}` };
  }
  const spec = parsed.data.spec;
  let hash: string;
  try {
    hash = canonicalHash(spec);
  } catch (err) {
    return { kind: 'unparseable', error: (err as Error).message };
  }
  const { namespace = '', name = '', uid = '', creationTimestamp } = stored.metadata;
  try {
    const result = evaluate({
      proposal: { namespace, name, uid, spec, hash, createdAt: typeof creationTimestamp === 'string' ? Date.parse(creationTimestamp) : Number.NaN },
      profile: await profileOf(spec.agent),
      policy: policy ?? (await policyInput(env)),
      history: { known: true, entries: [] },
      now: Date.now(),
      challengeSecret: 'chaos-test',
      runnerImage: RUNNER_IMAGE,
      catalogue: TEST_CATALOGUE,
    });
    return { kind: 'decided', outcome: result.outcome, hash, result };
  } catch (err) {
    return { kind: 'refused', error: (err as Error).message };
  }
}
