// What the test sees of the cluster: a poller that notes when each Decision first appeared (metadata-only lists,
// so polling hundreds of objects stays cheap and survives API outages), and the end-state invariants every
// scenario checks: one Decision per Proposal, at most one Job and only when authorized, one Pod per Job, and the
// Pod's NetworkPolicy stored before the Pod.
import https from 'node:https';
import { expect } from 'vitest';
import type { Outcome } from '../../../src/api/decision.ts';
import { LABELS } from '../../../src/api/group.ts';
import { jobNetworkPolicyName } from '../../../src/controller/names.ts';
import { DECISIONS, JOBS, NETWORK_POLICIES, PODS, PROPOSALS } from '../../../src/controller/resources.ts';
import { waitUntil } from '../../../dev/cluster/probe.ts';
import { SEVERITY } from '../../../src/governance/severity.ts';
import { kubeRequest } from '../../../src/runtime/kube-http.ts';
import type { KubeObject, ResourceType } from '../../../src/runtime/resource.ts';
import { resourcePath } from '../../../src/runtime/resource.ts';
import { admin, type ChaosEnv } from './env.ts';
import { localVerdict, policyInput } from './workload.ts';

interface MetaList {
  metadata?: { continue?: string };
  items?: { metadata: { name?: string; uid?: string; resourceVersion?: string; creationTimestamp?: string } }[];
}

/** Names and UIDs of the objects of a collection, via PartialObjectMetadataList (no specs, no status). */
export async function metadataList(resource: ResourceType, namespace: string, timeoutMs = 10_000): Promise<Map<string, string>> {
  const opts: https.RequestOptions = {};
  await admin.applyToHTTPSOptions(opts);
  const server = admin.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('admin kubeconfig has no cluster');
  const out = new Map<string, string>();
  let cont: string | undefined;
  do {
    const url = new URL(resourcePath(resource, { namespace }), server);
    url.searchParams.set('limit', '500');
    if (cont !== undefined) url.searchParams.set('continue', cont);
    const page = await new Promise<MetaList>((resolve, reject) => {
      const req = https.request(
        url,
        {
          ...opts,
          method: 'GET',
          headers: { ...(opts.headers ?? {}), accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1' },
          timeout: timeoutMs,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
            else resolve(JSON.parse(text) as MetaList);
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: timed out`)));
      req.on('error', reject);
      req.end();
    });
    for (const item of page.items ?? []) out.set(item.metadata.name ?? '', item.metadata.uid ?? '');
    cont = page.metadata?.continue || undefined;
  } while (cont !== undefined);
  return out;
}

export async function listAll(resource: ResourceType, namespace: string): Promise<KubeObject[]> {
  const r = await kubeRequest<{ items: KubeObject[] }>(admin, { method: 'GET', path: resourcePath(resource, { namespace }), timeoutMs: 60_000 });
  return r.items;
}

/** Polls the Decisions of a namespace and notes when each first appeared (performance.now()). */
export class DecisionPoller {
  readonly firstSeen = new Map<string, number>();
  /** The UID each Decision had when first seen. */
  readonly uids = new Map<string, string>();
  /** Decisions whose UID changed between two polls (a Decision deleted and made again). */
  readonly replaced = new Set<string>();
  readonly #namespace: string;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #errors = 0;

  constructor(namespace: string, intervalMs = 200) {
    this.#namespace = namespace;
    const tick = async (): Promise<void> => {
      await this.poll().catch(() => this.#errors++);
      if (!this.#stopped) this.#timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
  }

  async poll(): Promise<void> {
    const now = performance.now();
    for (const [name, uid] of await metadataList(DECISIONS, this.#namespace)) {
      const known = this.uids.get(name);
      if (known === undefined) this.uids.set(name, uid);
      else if (known !== uid) this.replaced.add(name);
      if (!this.firstSeen.has(name)) this.firstSeen.set(name, now);
    }
  }

  /** Resolves with the time (performance.now()) at which the last of names was seen. */
  async waitFor(names: readonly string[], what: string, timeoutMs = 180_000, abortIf?: () => void): Promise<number> {
    await waitUntil(() => Promise.resolve(names.every((n) => this.firstSeen.has(n)) ? true : undefined), { what, timeoutMs, intervalMs: 100, ...(abortIf ? { abortIf } : {}) });
    return Math.max(...names.map((n) => this.firstSeen.get(n) ?? 0));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

function rv(obj: KubeObject): bigint {
  const value = obj.metadata.resourceVersion;
  if (value === undefined || !/^\d+$/.test(value)) throw new Error(`${obj.kind ?? 'object'} ${obj.metadata.name ?? ''}: resourceVersion ${String(value)} is not an etcd revision`);
  return BigInt(value);
}

function controllerOwner(obj: KubeObject): { kind: string; uid: string } | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export interface Settled {
  readonly proposals: number;
  readonly outcomes: Record<Outcome, number>;
  readonly jobs: number;
  readonly pods: number;
  /** Smallest gap (in etcd revisions) between a Pod and its NetworkPolicy. */
  readonly minNetworkPolicyLead: number;
  /** Jobs that failed before a Pod was made ("name: reason"); only with podlessFailures. */
  readonly podlessFailures: readonly string[];
}

/**
 * Waits until every proposal of `names` is decided (or, for `undecided`, marked as not decidable) and every
 * authorized one has its Job, and every Job its Pod (or, with podlessFailures, a Failed phase instead).
 */
export async function waitForSettled(
  env: ChaosEnv,
  names: readonly string[],
  opts: { timeoutMs?: number; podlessFailures?: boolean } = {},
): Promise<void> {
  await waitUntil(
    async () => {
      const decisions = await listAll(DECISIONS, env.namespace);
      const byName = new Map(decisions.map((d) => [d.metadata.name ?? '', d]));
      if (!names.every((n) => byName.has(n))) return undefined;
      const allowed = names.filter((n) => (byName.get(n)?.spec as { outcome?: string } | undefined)?.outcome === 'ALLOW');
      const jobs = new Map((await listAll(JOBS, env.namespace)).map((j) => [j.metadata.name ?? '', j]));
      if (!allowed.every((n) => jobs.has(n))) return undefined;
      const pods = await kubeRequest<{ items: KubeObject[] }>(admin, {
        method: 'GET',
        path: resourcePath(PODS, { namespace: env.namespace }),
        query: { labelSelector: LABELS.job },
      });
      const podOwners = new Set(pods.items.map((p) => controllerOwner(p)?.uid));
      return allowed.every((n) => {
        const job = jobs.get(n);
        if (podOwners.has(job?.metadata.uid)) return true;
        return opts.podlessFailures === true && (job?.status as { phase?: string } | undefined)?.phase === 'Failed';
      })
        ? true
        : undefined;
    },
    { what: `every proposal of ${env.namespace} decided, with its Job and Pod when allowed`, timeoutMs: opts.timeoutMs ?? 240_000, intervalMs: 500 },
  );
}

/**
 * The end state of a burst, asserted: exactly one Decision per Proposal (the ones listed in `uids`, whose UIDs
 * must match), each agreeing with the engine (exactly, or at least as severe when `severityAtLeast`), a Job only
 * for ALLOW and then exactly one, one Pod per Job, and each Pod's NetworkPolicy stored before it.
 */
export async function assertSettledInvariants(
  env: ChaosEnv,
  uids: ReadonlyMap<string, string>,
  opts: {
    /** Outcomes equal the engine's (default); otherwise at least as severe (the session may add findings). */
    exactOutcomes?: boolean;
    /** Proposals that must have no Decision (the controller cannot read them). */
    undecided?: ReadonlySet<string>;
    /** A Job may have failed before its Pod (e.g. an egress rule no NetworkPolicy can express). */
    podlessFailures?: boolean;
  } = {},
): Promise<Settled> {
  const [proposals, decisions, jobs, pods, networkPolicies] = await Promise.all([
    listAll(PROPOSALS, env.namespace),
    listAll(DECISIONS, env.namespace),
    listAll(JOBS, env.namespace),
    listAll(PODS, env.namespace),
    listAll(NETWORK_POLICIES, env.namespace),
  ]);
  const proposalByName = new Map(proposals.map((p) => [p.metadata.name ?? '', p]));
  expect([...proposalByName.keys()].sort()).toEqual([...uids.keys()].sort());
  for (const [name, uid] of uids) expect(proposalByName.get(name)?.metadata.uid, `proposal ${name} uid`).toBe(uid);

  // One Decision per Proposal: names are unique, so "exactly one" is "present and bound to this Proposal".
  const decisionByName = new Map(decisions.map((d) => [d.metadata.name ?? '', d]));
  const undecided = opts.undecided ?? new Set<string>();
  for (const name of undecided) expect(decisionByName.has(name), `${name} has no Decision`).toBe(false);
  expect(decisions.length, 'Decisions in the namespace').toBe(uids.size - undecided.size);
  const policy = await policyInput(env);
  const outcomes: Record<Outcome, number> = { ALLOW: 0, DENY: 0, REQUIRE_HUMAN: 0, NEED_MORE_EVIDENCE: 0 };
  for (const [name, uid] of uids) {
    if (undecided.has(name)) continue;
    const d = decisionByName.get(name);
    expect(d, `Decision of ${name}`).toBeDefined();
    const spec = d?.spec as { proposalRef: { name: string; uid: string }; outcome: Outcome; proposalHash: string; policy: { hash: string } };
    expect(spec.proposalRef, `Decision ${name}.spec.proposalRef`).toEqual({ name, uid });
    expect(controllerOwner(d as KubeObject)?.uid, `Decision ${name} owner`).toBe(uid);
    const verdict = await localVerdict(env, proposalByName.get(name) as KubeObject, policy);
    if (verdict.kind !== 'decided') throw new Error(`proposal ${name}: the engine alone does not decide it (${verdict.kind}: ${verdict.error})`);
    expect(spec.proposalHash, `Decision ${name}.spec.proposalHash`).toBe(verdict.hash);
    expect(spec.policy.hash, `Decision ${name}.spec.policy.hash`).toBe(policy.hash);
    if (opts.exactOutcomes ?? true) expect(spec.outcome, `Decision ${name}.spec.outcome`).toBe(verdict.outcome);
    else expect(SEVERITY[spec.outcome], `Decision ${name}: ${spec.outcome} at least as severe as the engine's ${verdict.outcome}`).toBeGreaterThanOrEqual(SEVERITY[verdict.outcome]);
    outcomes[spec.outcome]++;
  }

  // A Job only where the Decision authorizes one (no approvals are given here: ALLOW only), and then one.
  const jobByName = new Map(jobs.map((j) => [j.metadata.name ?? '', j]));
  for (const j of jobs) {
    const name = j.metadata.name ?? '';
    const d = decisionByName.get(name);
    expect(d, `Job ${name} has a Decision`).toBeDefined();
    expect((d?.spec as { outcome: string }).outcome, `Job ${name}: its Decision allows it`).toBe('ALLOW');
    const spec = j.spec as { proposalRef: { name: string; uid: string }; decisionRef: { name: string; uid: string } };
    expect(spec.proposalRef, `Job ${name}.spec.proposalRef`).toEqual({ name, uid: uids.get(name) });
    expect(spec.decisionRef, `Job ${name}.spec.decisionRef`).toEqual({ name, uid: d?.metadata.uid });
  }
  expect(jobs.length, 'Jobs = ALLOW decisions').toBe(outcomes.ALLOW);

  // Exactly one Pod per Job, and its NetworkPolicy (owned by the same Job) older than the Pod.
  const podsByJobUid = new Map<string, KubeObject[]>();
  for (const pod of pods) {
    const owner = controllerOwner(pod);
    expect(owner?.kind, `Pod ${pod.metadata.name ?? ''} is controlled by a Job`).toBe('Job');
    const list = podsByJobUid.get(owner?.uid ?? '') ?? [];
    list.push(pod);
    podsByJobUid.set(owner?.uid ?? '', list);
  }
  const npByName = new Map(networkPolicies.map((np) => [np.metadata.name ?? '', np]));
  let minLead = Number.POSITIVE_INFINITY;
  const podlessFailures: string[] = [];
  for (const job of jobByName.values()) {
    const name = job.metadata.name ?? '';
    const jobPods = podsByJobUid.get(job.metadata.uid ?? '') ?? [];
    const status = job.status as { phase?: string; reason?: string } | undefined;
    if (jobPods.length === 0 && opts.podlessFailures === true && status?.phase === 'Failed') {
      podlessFailures.push(`${name}: ${status.reason ?? '?'}`);
      continue;
    }
    expect(jobPods.length, `Pods of Job ${name}`).toBe(1);
    const pod = jobPods[0] as KubeObject;
    const np = npByName.get(jobNetworkPolicyName(name));
    expect(np, `NetworkPolicy of Job ${name}`).toBeDefined();
    expect(controllerOwner(np as KubeObject)?.uid, `NetworkPolicy of Job ${name} is owned by it`).toBe(job.metadata.uid);
    const lead = rv(pod) - rv(np as KubeObject);
    expect(lead > 0n, `NetworkPolicy of ${name} (rv ${String(np?.metadata.resourceVersion)}) stored before its Pod (rv ${String(pod.metadata.resourceVersion)})`).toBe(true);
    expect(Date.parse(np?.metadata.creationTimestamp ?? '') <= Date.parse(pod.metadata.creationTimestamp ?? ''), `NetworkPolicy of ${name} not created after its Pod`).toBe(true);
    minLead = Math.min(minLead, Number(lead));
  }
  expect(pods.length, 'Pods = Jobs').toBe(jobs.length - podlessFailures.length);
  return { proposals: uids.size, outcomes, jobs: jobs.length, pods: pods.length, minNetworkPolicyLead: Number.isFinite(minLead) ? minLead : 0, podlessFailures };
}
