// Scenario 5: generated Proposal objects (fast-check) created by agent ServiceAccounts. Each is either rejected by
// the API server with a status that names the offending field, or stored and then decided by the controller —
// never ALLOWed when the engine alone (evaluate() on the same inputs) would not, never less severe. The controller
// never crashes, and an object it cannot parse (stored under an earlier, looser schema) is marked with a condition
// and not retried in a hot loop.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGENT_PROFILES } from '../../src/governance/defaults.ts';
import { ProposalSpec } from '../../src/api/proposal.ts';
import type { Outcome } from '../../src/api/decision.ts';
import { DECISIONS, PROPOSALS } from '../../src/controller/resources.ts';
import { waitUntil } from '../../dev/cluster/probe.ts';
import { SEVERITY } from '../../src/governance/severity.ts';
import { getObject, KubeApiError, kubeRequest } from '../../src/runtime/kube-http.ts';
import type { KubeObject } from '../../src/runtime/resource.ts';
import { resourcePath } from '../../src/runtime/resource.ts';
import { ControllerProcess } from './support/controller-process.ts';
import { setupChaosEnv } from './support/env.ts';
import { createUnderLooserSchema } from './support/legacy-object.ts';
import { chaosCounts } from './support/mode.ts';
import { assertSettledInvariants, listAll, waitForSettled } from './support/observe.ts';
import { INVALID_NAME_SHAPES, nameFor, proposalArb, type GeneratedProposal } from './support/proposal-arbitrary.ts';
import { ScenarioReport } from './support/report.ts';
import { chaosSeed } from './support/seed.ts';
import { burstSpec, createProposal, localVerdict, policyInput } from './support/workload.ts';

const counts = chaosCounts().fuzz;
const report = new ScenarioReport('fuzz');
afterAll(() => report.save());
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// A broad profile (every effect the shipped Human profile has, risk up to 0.7), so that ALLOW is reachable.
const env = await setupChaosEnv('chaos-fuzz', { agents: 3, allowedEffects: DEFAULT_AGENT_PROFILES.human?.allowedEffects, maxRisk: 0.7 });
const controller = new ControllerProcess({ env, label: 'fuzz' });

interface Accepted {
  readonly name: string;
  readonly uid: string;
  readonly generated: GeneratedProposal | undefined;
}

const accepted: Accepted[] = [];
/** Stored, but no Decision is expected (the controller cannot parse them). */
const undecidable = new Set<string>();

interface Rejection {
  readonly code: number;
  readonly fields: string[];
  readonly message: string;
}

function rejectionOf(err: unknown): Rejection | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  const body = err.body;
  const status: { message?: string; details?: { causes?: { field?: string }[] } } = typeof body === 'object' ? body : {};
  const message = status.message ?? (typeof body === 'string' ? body : '');
  const fields = (status.details?.causes ?? []).map((c) => c.field ?? '').filter((f) => f !== '' && f !== '<nil>');
  // Some checks (e.g. CEL's integer format) report the field only in the message text, under the cause "<nil>".
  for (const m of message.matchAll(/\b(?:spec|metadata)(?:\.[A-Za-z0-9_-]+|\[\d+\])+/g)) fields.push(m[0]);
  return { code: err.code, fields, message };
}

/** A cause names the mutated field when one path contains the other (spec.intent ⊃ spec.intent.id). */
function related(field: string, anchor: string): boolean {
  const within = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || a.startsWith(`${b}[`);
  return within(field, anchor) || within(anchor, field);
}

function describeGenerated(g: GeneratedProposal, name: string): string {
  return `${name} mutations=${JSON.stringify(g.mutations)} spec=${(JSON.stringify(g.spec) ?? String(g.spec)).slice(0, 1500)}`;
}

describe('generated Proposal objects', () => {
  let counter = 0;

  it('the controller starts', async () => {
    await report.step('controller ready', () => controller.ready());
  });

  it('an object stored under an earlier, looser schema is stored (the controller cannot parse it)', async () => {
    await report.step('store a Proposal the current schema refuses', async () => {
      const agent = env.agents[0];
      if (agent === undefined) throw new Error('no agent');
      const spec = { ...burstSpec(env, agent, 'allow', 'legacy'), summary: `legacy ${'x'.repeat(1500)}` };
      expect(ProposalSpec.safeParse(spec).success, 'the current schema refuses it').toBe(false);
      const stored = await createUnderLooserSchema(env, agent, 'fz-legacy', spec);
      accepted.push({ name: 'fz-legacy', uid: stored.metadata.uid ?? '', generated: undefined });
      undecidable.add('fz-legacy');
    });
  });

  it(`${counts.runs} generated objects: rejected naming a field, or stored`, async () => {
    await report.step('create generated objects as agents', async () => {
      const submitters = env.agents.map((a) => a.username);
      let rejected = 0;
      let rejectedButParseable = 0;
      const kinds = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(proposalArb(env.profileName, submitters), async (g) => {
          const unique = (counter++).toString(36).padStart(4, '0');
          const name = nameFor(g.nameShape, unique);
          const agent = env.agents[counter % env.agents.length];
          if (agent === undefined) throw new Error('no agent');
          const body = { apiVersion: 'governance.m87.io/v1alpha1', kind: 'Proposal', metadata: { name, namespace: env.namespace }, spec: g.spec };
          try {
            const stored = await kubeRequest<KubeObject>(agent.kubeConfig, { method: 'POST', path: resourcePath(PROPOSALS, { namespace: env.namespace }), body, timeoutMs: 30_000 });
            accepted.push({ name, uid: stored.metadata.uid ?? '', generated: g });
            for (const m of g.mutations) kinds.set(`stored: ${m.kind}`, (kinds.get(`stored: ${m.kind}`) ?? 0) + 1);
          } catch (err) {
            const r = rejectionOf(err);
            if (r === undefined || (r.code !== 422 && r.code !== 400)) throw err;
            rejected++;
            for (const m of g.mutations) kinds.set(`rejected: ${m.kind}`, (kinds.get(`rejected: ${m.kind}`) ?? 0) + 1);
            const anchors = [...g.mutations.flatMap((m) => m.anchors), ...(INVALID_NAME_SHAPES.has(g.nameShape) ? ['metadata.name'] : [])];
            if (ProposalSpec.safeParse(g.spec).success && !INVALID_NAME_SHAPES.has(g.nameShape)) rejectedButParseable++;
            expect(r.fields.length, `rejection of ${describeGenerated(g, name)} names a field: ${r.message}`).toBeGreaterThan(0);
            if (anchors.length > 0) {
              expect(
                r.fields.some((f) => anchors.some((a) => related(f, a))),
                `rejection of ${describeGenerated(g, name)} names a mutated field (${anchors.join(', ')}), got ${r.fields.join(', ')}: ${r.message}`,
              ).toBe(true);
            }
          }
        }),
        { numRuns: counts.runs, seed: chaosSeed(), endOnFailure: true },
      );
      report.count('generated objects', counter);
      report.count('rejected by the API server, naming the field', rejected);
      report.count('rejected by the API server although the controller schema accepts them', rejectedButParseable);
      report.count('stored', counter - rejected);
      for (const [kind, n] of [...kinds].sort()) report.count(`mutation ${kind}`, n);
    });
  });

  it('every stored object is decided, never more permissively than the engine alone; unreadable ones are marked', async () => {
    await report.step('compare the Decisions with the engine evaluated locally', async () => {
      // Settled: a Decision, or a Decided=False condition saying why there is none.
      const settle = async (): Promise<Map<string, KubeObject> | undefined> => {
        const [proposals, decisions] = await Promise.all([listAll(PROPOSALS, env.namespace), listAll(DECISIONS, env.namespace)]);
        const decided = new Set(decisions.map((d) => d.metadata.name));
        const byName = new Map(proposals.map((p) => [p.metadata.name ?? '', p]));
        for (const a of accepted) {
          if (decided.has(a.name)) continue;
          const cond = (byName.get(a.name)?.status as { conditions?: { type: string; status: string; reason: string }[] } | undefined)?.conditions?.find((c) => c.type === 'Decided');
          if (cond?.status !== 'False' || !['InvalidProposal', 'EvaluationFailed'].includes(cond.reason)) return undefined;
        }
        return byName;
      };
      const proposals = await waitUntil(settle, { what: 'every stored proposal decided or marked', timeoutMs: 180_000, intervalMs: 500 });
      const decisions = new Map((await listAll(DECISIONS, env.namespace)).map((d) => [d.metadata.name ?? '', d]));
      const policy = await policyInput(env);
      const outcomes: Record<Outcome, number> = { ALLOW: 0, DENY: 0, REQUIRE_HUMAN: 0, NEED_MORE_EVIDENCE: 0 };
      let same = 0;
      let stricter = 0;
      for (const a of accepted) {
        const stored = proposals.get(a.name) as KubeObject;
        const verdict = await localVerdict(env, stored, policy);
        const decision = decisions.get(a.name);
        const cond = (stored.status as { conditions?: { type: string; reason: string; message: string }[] } | undefined)?.conditions?.find((c) => c.type === 'Decided');
        const what = `${a.name}${a.generated ? ` (${describeGenerated(a.generated, a.name)})` : ''}`;
        if (verdict.kind === 'unparseable') {
          undecidable.add(a.name);
          expect(decision, `${what}: no Decision for an object the controller cannot parse (${verdict.error})`).toBeUndefined();
          expect(cond?.reason, `${what}: marked as unreadable`).toBe('InvalidProposal');
          continue;
        }
        if (verdict.kind === 'refused') {
          undecidable.add(a.name);
          expect(decision, `${what}: no Decision when the engine refuses the input (${verdict.error})`).toBeUndefined();
          expect(cond?.reason, `${what}: marked as not evaluable`).toBe('EvaluationFailed');
          continue;
        }
        expect(decision, `${what}: decided (engine: ${verdict.outcome})`).toBeDefined();
        const outcome = (decision?.spec as { outcome: Outcome }).outcome;
        outcomes[outcome]++;
        if (outcome === 'ALLOW') expect(verdict.outcome, `${what}: the controller allowed what the engine would not`).toBe('ALLOW');
        if (verdict.outcome === 'DENY') expect(outcome, `${what}: the engine denies it`).toBe('DENY');
        expect(SEVERITY[outcome], `${what}: ${outcome} at least as severe as the engine's ${verdict.outcome}`).toBeGreaterThanOrEqual(SEVERITY[verdict.outcome]);
        if (outcome === verdict.outcome) same++;
        else stricter++;
      }
      for (const [outcome, n] of Object.entries(outcomes)) report.count(`decided ${outcome}`, n);
      report.count('same outcome as the engine alone', same);
      report.count('stricter than the engine alone (session findings)', stricter);
      report.count('stored but unreadable for the controller (marked InvalidProposal)', [...undecidable].filter((n) => n !== 'fz-legacy').length + 1);
      expect(undecidable.has('fz-legacy')).toBe(true);
    });
  });

  it('an unreadable object is not retried in a hot loop', async () => {
    await report.step('count reconciles and status writes over a quiet window', async () => {
      const rvs = async (): Promise<Map<string, string>> => {
        const out = new Map<string, string>();
        for (const name of undecidable) out.set(name, (await getObject(env.admin, PROPOSALS, { namespace: env.namespace, name }))?.metadata.resourceVersion ?? '');
        return out;
      };
      const before = {
        reconciles: await controller.metricSum('m87_reconcile_total', { controller: 'decisions' }),
        retries: await controller.metricSum('m87_workqueue_retries_total', { name: 'decisions' }),
        rvs: await rvs(),
      };
      // Wake the unreadable proposal's submitter: a new proposal of the same agent is decided; the unreadable one
      // must be skipped, not rewritten or retried.
      const agent = env.agents[0];
      if (agent === undefined) throw new Error('no agent');
      await createProposal(agent.kubeConfig, env.namespace, 'fz-poke', burstSpec(env, agent, 'allow', 'poke'));
      await waitUntil(async () => ((await getObject(env.admin, DECISIONS, { namespace: env.namespace, name: 'fz-poke' })) !== undefined ? true : undefined), {
        what: 'the poke decided',
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      accepted.push({ name: 'fz-poke', uid: (await getObject(env.admin, PROPOSALS, { namespace: env.namespace, name: 'fz-poke' }))?.metadata.uid ?? '', generated: undefined });
      const windowMs = counts.runs >= 100 ? 15_000 : 5_000;
      await sleep(windowMs);
      const after = {
        reconciles: await controller.metricSum('m87_reconcile_total', { controller: 'decisions' }),
        retries: await controller.metricSum('m87_workqueue_retries_total', { name: 'decisions' }),
        rvs: await rvs(),
      };
      report.count(`decisions reconciles in a ${windowMs / 1000} s window with one new proposal`, after.reconciles - before.reconciles);
      report.count('decisions work-queue retries in that window', after.retries - before.retries);
      report.count('status writes to unreadable proposals in that window', [...after.rvs].filter(([n, rv]) => before.rvs.get(n) !== rv).length);
      expect(after.rvs, 'unreadable proposals are not rewritten').toEqual(before.rvs);
      expect(after.retries - before.retries, 'no retries').toBe(0);
      expect(after.reconciles - before.reconciles, 'a handful of reconciles, not a loop').toBeLessThanOrEqual(4);
    });
  });

  it('the controller never crashed; Jobs, Pods and NetworkPolicies are consistent', async () => {
    await report.step('one process throughout; structural invariants', async () => {
      const decided = accepted.filter((a) => !undecidable.has(a.name)).map((a) => a.name);
      await waitForSettled(env, decided, { podlessFailures: true });
      const settled = await assertSettledInvariants(env, new Map(accepted.map((a) => [a.name, a.uid])), { exactOutcomes: false, undecided: undecidable, podlessFailures: true });
      report.count('Jobs', settled.jobs);
      report.count('Pods', settled.pods);
      report.count('Jobs failed before a Pod', settled.podlessFailures.length);
      for (const f of settled.podlessFailures.slice(0, 5)) report.note(`Job failed before its Pod: ${f}`);
      expect(controller.alive(), 'the controller is still running').toBe(true);
      expect(controller.linesMatching((l) => l.msg === 'Controller started').length, 'started once').toBe(1);
      report.count('error log lines of the controller', controller.linesMatching((l) => (l.level ?? 0) >= 50).length);
      expect((await controller.stop()).code).toBe(0);
    });
  });
});

