// The session view the decision procedure needs, derived from Decisions and Jobs in the informer caches
// (no extra store, survives restarts): per submitter, which effects were authorized when (ALLOW decisions,
// and REQUIRE_HUMAN decisions whose Job was minted after approval), and when decisions were made (rate).
//
// Reads go through an index keyed by submitter, never a scan of the whole cache. Objects this process just
// wrote are kept in a small overlay until the informer delivers them, so the next decision for the same
// submitter sees them at once (read-your-own-writes; the watch may lag by milliseconds).
import type { EffectTag } from '../api/effects.ts';
import type { HistoryEntry, SessionHistory } from '../governance/types.ts';
import type { IndexFunc, Informer } from '../runtime/informer.ts';
import { keyOf, objectKey, type KubeObject } from '../runtime/resource.ts';
import { asFinishedJob } from './compact.ts';

export const SUBMITTER_INDEX = 'submitter';

/** Index Decisions (and Proposals) by spec.submittedBy. */
export const indexBySubmitter: IndexFunc<KubeObject> = (obj) => {
  const s = (obj.spec as { submittedBy?: unknown } | undefined)?.submittedBy;
  return typeof s === 'string' && s !== '' ? [s] : [];
};

/** The fields of a Decision the controller's bookkeeping needs, read defensively. */
export interface DecisionFacts {
  key: string;
  uid: string;
  proposalUID: string;
  submittedBy: string;
  outcome: string;
  allowedEffects: readonly string[];
  /** Epoch ms; NaN when unreadable (then it counts: fail closed). */
  decidedAt: number;
}

export interface JobFacts {
  key: string;
  proposalUID: string;
  effects: readonly string[];
  /** Epoch ms. */
  createdAt: number;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v) : undefined;
}

/**
 * The facts of a cached (frozen, so unchanging) Decision, read once per object version: the ledger reads every
 * Decision of a submitter for each of their decisions (rate limit and session history). Objects that are not
 * frozen are read every time.
 */
const decisionFactsOf = new WeakMap<KubeObject, DecisionFacts | null>();

/** undefined when the object lacks a field the ledger depends on. */
export function decisionFacts(obj: KubeObject): DecisionFacts | undefined {
  const known = decisionFactsOf.get(obj);
  if (known !== undefined) return known ?? undefined;
  const facts = readDecisionFacts(obj);
  if (Object.isFrozen(obj)) decisionFactsOf.set(obj, facts === undefined ? null : Object.freeze(facts));
  return facts;
}

function readDecisionFacts(obj: KubeObject): DecisionFacts | undefined {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  const proposalUID = str((spec.proposalRef as { uid?: unknown } | undefined)?.uid);
  const submittedBy = str(spec.submittedBy);
  const outcome = str(spec.outcome);
  const allowedEffects = strings(spec.allowedEffects);
  const uid = obj.metadata.uid;
  if (proposalUID === undefined || submittedBy === undefined || outcome === undefined || allowedEffects === undefined || uid === undefined) {
    return undefined;
  }
  return { key: objectKey(obj), uid, proposalUID, submittedBy, outcome, allowedEffects, decidedAt: Date.parse(str(spec.decidedAt) ?? '') };
}

export function jobFacts(obj: KubeObject): JobFacts | undefined {
  const spec = obj.spec as Record<string, unknown> | undefined;
  const proposalUID = str((spec?.proposalRef as { uid?: unknown } | undefined)?.uid);
  // A finished Job is cached without its envelope (compact.ts), with the envelope's effects.
  const finished = asFinishedJob(obj);
  const effects = finished !== undefined ? finished.spec.effects : strings((spec?.envelope as { effects?: unknown } | undefined)?.effects);
  if (proposalUID === undefined || effects === undefined) return undefined;
  return { key: objectKey(obj), proposalUID, effects, createdAt: Date.parse(str(obj.metadata.creationTimestamp) ?? '') };
}

interface Pending<T> {
  facts: T;
  object: KubeObject;
  recordedAt: number;
}

const OVERLAY_TTL_MS = 10 * 60_000;
const RATE_WINDOW_MS = 60_000;

export class SessionLedger {
  readonly #decisions: Informer<KubeObject>;
  readonly #jobs: Informer<KubeObject>;
  readonly #now: () => number;
  /** submitter → key → decision written by us, not yet in the cache. */
  readonly #pendingDecisions = new Map<string, Map<string, Pending<DecisionFacts>>>();
  /** key → job written by us, not yet in the cache. */
  readonly #pendingJobs = new Map<string, Pending<JobFacts>>();
  /**
   * key → an ALLOW Decision we wrote, whole, until its Job exists (at once, normally): the cache keeps
   * Decisions without their envelope (compact.ts) and minting needs it (fullDecision). A REQUIRE_HUMAN one is
   * not held: its approval may take hours (or never come), and its minting reads the Decision from the server.
   */
  readonly #unminted = new Map<string, Pending<DecisionFacts>>();
  /**
   * key → proposal UID, while our create of its Decision is in flight. The watch event of the new Decision can
   * arrive before the create's response: a reconcile it triggers then finds neither the whole Decision here nor
   * an envelope in the cache, and must not read it back from the server — recordDecision follows at once and
   * the decisions controller queues the proposal again.
   */
  readonly #deciding = new Map<string, string>();

  /** `now` is the controller's clock (epoch ms). */
  constructor(decisions: Informer<KubeObject>, jobs: Informer<KubeObject>, now: () => number) {
    this.#decisions = decisions;
    this.#jobs = jobs;
    this.#now = now;
    decisions.addHandlers({
      onAdd: (obj) => this.#forgetDecision(obj),
      onUpdate: (_old, obj) => this.#forgetDecision(obj),
      onDelete: (obj) => {
        this.#forgetDecision(obj);
        if (this.#unminted.get(objectKey(obj))?.facts.uid === obj.metadata.uid) this.#unminted.delete(objectKey(obj));
      },
    });
    jobs.addHandlers({
      onAdd: (obj) => this.#forgetJob(obj),
      onUpdate: (_old, obj) => this.#forgetJob(obj),
      onDelete: (obj) => this.#forgetJob(obj),
    });
  }

  /** Marks the Decision create of this proposal incarnation as in flight until `done` is called. */
  deciding(namespace: string, name: string, proposalUID: string): { done(): void } {
    const key = keyOf(namespace, name);
    this.#deciding.set(key, proposalUID);
    return {
      done: () => {
        if (this.#deciding.get(key) === proposalUID) this.#deciding.delete(key);
      },
    };
  }

  /** Whether our Decision create for this proposal incarnation is in flight. */
  isDeciding(namespace: string, name: string, proposalUID: string): boolean {
    return this.#deciding.get(keyOf(namespace, name)) === proposalUID;
  }

  /** Remember a Decision we created (or found) until the informer has it. */
  recordDecision(obj: KubeObject): void {
    const facts = decisionFacts(obj);
    if (!facts) return;
    this.#expire();
    if (facts.outcome === 'ALLOW' && this.job(...splitNamespaced(facts.key), facts.proposalUID) === undefined) {
      this.#unminted.set(facts.key, { facts, object: obj, recordedAt: this.#now() });
    }
    if (this.#decisions.get(facts.key)?.metadata.uid === facts.uid) return;
    let m = this.#pendingDecisions.get(facts.submittedBy);
    if (!m) this.#pendingDecisions.set(facts.submittedBy, (m = new Map<string, Pending<DecisionFacts>>()));
    m.set(facts.key, { facts, object: obj, recordedAt: this.#now() });
  }

  recordJob(obj: KubeObject): void {
    const facts = jobFacts(obj);
    if (facts) this.#minted(facts);
    // The cache may still hold a Job of an earlier incarnation under this name: only the same object counts.
    if (!facts || this.#jobs.get(facts.key)?.metadata.uid === obj.metadata.uid) return;
    this.#pendingJobs.set(facts.key, { facts, object: obj, recordedAt: this.#now() });
  }

  /**
   * The Decision object for proposal namespace/name of this incarnation (cache, then overlay);
   * 'unreadable' when the cached Decision of that name cannot be interpreted.
   */
  decisionObject(namespace: string, name: string, proposalUID: string): KubeObject | 'unreadable' | undefined {
    const key = keyOf(namespace, name);
    const cached = this.#decisions.get(key);
    if (cached) {
      const facts = decisionFacts(cached);
      if (!facts) return 'unreadable';
      if (facts.proposalUID === proposalUID) return cached;
    }
    for (const m of this.#pendingDecisions.values()) {
      const p = m.get(key);
      if (p && p.facts.proposalUID === proposalUID) return p.object;
    }
    return undefined;
  }

  /**
   * The whole ALLOW Decision (with its effective envelope) we wrote for this proposal incarnation and whose Job
   * does not exist yet, or undefined (then only the server has it: the cache keeps Decisions without envelopes).
   */
  fullDecision(namespace: string, name: string, proposalUID: string, decisionUID: string): KubeObject | undefined {
    this.#expire();
    const p = this.#unminted.get(keyOf(namespace, name));
    return p !== undefined && p.facts.proposalUID === proposalUID && p.facts.uid === decisionUID ? p.object : undefined;
  }

  /** Whether a Decision exists (as far as this process knows) for this proposal incarnation. */
  isDecided(namespace: string, name: string, proposalUID: string): boolean {
    return this.decisionObject(namespace, name, proposalUID) !== undefined;
  }

  /** The Job object for proposal namespace/name of this incarnation (cache, then overlay). */
  jobObject(namespace: string, name: string, proposalUID: string): KubeObject | undefined {
    const key = keyOf(namespace, name);
    const cached = this.#jobs.get(key);
    if (cached && jobFacts(cached)?.proposalUID === proposalUID) return cached;
    const p = this.#pendingJobs.get(key);
    return p && p.facts.proposalUID === proposalUID ? p.object : undefined;
  }

  job(namespace: string, name: string, proposalUID: string): JobFacts | undefined {
    const obj = this.jobObject(namespace, name, proposalUID);
    return obj ? jobFacts(obj) : undefined;
  }

  /** Every decision of the submitter (cache ∪ overlay); `unreadable` counts Decisions we cannot interpret. */
  #submitterDecisions(submitter: string): { facts: DecisionFacts[]; unreadable: number } {
    this.#expire();
    const facts: DecisionFacts[] = [];
    const seen = new Set<string>();
    let unreadable = 0;
    for (const obj of this.#decisions.byIndex(SUBMITTER_INDEX, submitter)) {
      const f = decisionFacts(obj);
      if (!f) {
        unreadable++;
        continue;
      }
      facts.push(f);
      seen.add(f.uid);
    }
    for (const p of this.#pendingDecisions.get(submitter)?.values() ?? []) {
      if (!seen.has(p.facts.uid)) facts.push(p.facts);
    }
    return { facts, unreadable };
  }

  /**
   * The submitter's authorized effects for the topology rule. Unknown (fail closed) when a Decision of
   * theirs cannot be interpreted.
   */
  history(submitter: string): SessionHistory {
    const { facts, unreadable } = this.#submitterDecisions(submitter);
    if (unreadable > 0) return { known: false };
    const entries: HistoryEntry[] = [];
    for (const d of facts) {
      if (d.outcome === 'ALLOW') {
        for (const effect of d.allowedEffects) entries.push({ effect: effect as EffectTag, at: d.decidedAt });
      } else if (d.outcome === 'REQUIRE_HUMAN') {
        const [namespace, name] = splitNamespaced(d.key);
        const job = this.job(namespace, name, d.proposalUID);
        if (job) for (const effect of job.effects) entries.push({ effect: effect as EffectTag, at: job.createdAt });
      }
    }
    return { known: true, entries };
  }

  /** Times (epoch ms) of the submitter's decisions in the last minute, for the rate limit. */
  recentDecisionTimes(submitter: string): number[] {
    const { facts, unreadable } = this.#submitterDecisions(submitter);
    const since = this.#now() - RATE_WINDOW_MS;
    const times = facts.map((d) => d.decidedAt).filter((t) => !(t <= since));
    // An unreadable Decision still counts against the rate (fail closed).
    for (let i = 0; i < unreadable; i++) times.push(Number.NaN);
    return times;
  }

  /** Whole Decisions held for minting (for tests and debugging). */
  heldForMinting(): number {
    return this.#unminted.size;
  }

  /** Number of objects still waiting for the informer (for tests and debugging). */
  pendingWrites(): number {
    let n = this.#pendingJobs.size;
    for (const m of this.#pendingDecisions.values()) n += m.size;
    return n;
  }

  /**
   * The informer has this object now (or saw it go): our copy of *that object* is no longer needed. An
   * event about another object under the same name (an earlier incarnation being deleted) changes nothing.
   */
  #forgetDecision(obj: KubeObject): void {
    const key = objectKey(obj);
    for (const [submitter, m] of this.#pendingDecisions) {
      if (m.get(key)?.object.metadata.uid !== obj.metadata.uid) continue;
      m.delete(key);
      if (m.size === 0) this.#pendingDecisions.delete(submitter);
    }
  }

  /** A Job of this proposal incarnation exists: its Decision's envelope is not needed any more. */
  #minted(job: JobFacts): void {
    if (this.#unminted.get(job.key)?.facts.proposalUID === job.proposalUID) this.#unminted.delete(job.key);
  }

  #forgetJob(obj: KubeObject): void {
    const facts = jobFacts(obj);
    if (facts) this.#minted(facts);
    const key = objectKey(obj);
    if (this.#pendingJobs.get(key)?.object.metadata.uid === obj.metadata.uid) this.#pendingJobs.delete(key);
  }

  #expire(): void {
    const cutoff = this.#now() - OVERLAY_TTL_MS;
    for (const [submitter, m] of this.#pendingDecisions) {
      for (const [key, p] of m) if (p.recordedAt < cutoff) m.delete(key);
      if (m.size === 0) this.#pendingDecisions.delete(submitter);
    }
    for (const [key, p] of this.#pendingJobs) if (p.recordedAt < cutoff) this.#pendingJobs.delete(key);
    for (const [key, p] of this.#unminted) if (p.recordedAt < cutoff) this.#unminted.delete(key);
  }
}

function splitNamespaced(key: string): [string, string] {
  const i = key.indexOf('/');
  return i < 0 ? ['', key] : [key.slice(0, i), key.slice(i + 1)];
}
