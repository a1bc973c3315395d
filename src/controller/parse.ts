// Typed views of cached objects. Informer objects are frozen and replaced on every change, so a parse is
// remembered per object identity: each version of an object is validated once, however often it is read.
// The informers parse Proposals, Decisions, Approvals and Jobs at ingest (ingestObject): the cached object
// then carries the parsed spec itself, so the typed form is the cached form (no second copy of the spec,
// no parse in any reconcile). A Decision, and a finished tree's Proposal and Job, are then cached in their
// compact form (compact.ts); the parse functions here refuse a compact object (they are for whole objects:
// a live GET, our own write), and decisionView reads a Decision in either form.
import type { z } from 'zod';
import { AgentProfileSpec } from '../api/agent-profile.ts';
import { firstIssue } from '../api/issues.ts';
import { Approval, Decision, Job, Proposal } from '../api/kinds.ts';
import { canonicalHash } from '../hash/canonical.ts';
import type { KubeObject } from '../runtime/resource.ts';
import { asDecisionView, asFinishedProposal, compactDecision, compactFinishedJob, compactFinishedProposal, isCompact, proposalFinished, type DecisionView } from './compact.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

interface CachedParser<T> {
  (obj: object): Parsed<T>;
  /**
   * Parses a cached object's incoming version once: returns the object with its spec replaced by the parsed
   * spec (the parse result shares it, and the cached object's metadata), the parse remembered for it.
   * An object that does not parse is returned as it is, with the failure remembered.
   */
  ingest(obj: KubeObject): KubeObject;
}

/** Parses of this process (tests assert the parse-once property with it). */
export const parseStats = { parses: 0 };

/** What a parse function answers for a compact cache entry: the parts it was asked for are not kept. */
const COMPACT_REFUSED = { ok: false, error: 'a compact cache entry (compact.ts): read the whole object' } as const;

function cachedParser<S extends z.ZodType>(schema: S): CachedParser<z.infer<S>> {
  const cache = new WeakMap<object, Parsed<z.infer<S>>>();
  const run = (obj: object): Parsed<z.infer<S>> => {
    parseStats.parses++;
    const r = schema.safeParse(obj);
    return r.success ? { ok: true, value: r.data } : { ok: false, error: firstIssue(r.error) };
  };
  const parse = ((obj: object) => {
    if (isCompact(obj)) return COMPACT_REFUSED;
    let hit = cache.get(obj);
    if (hit === undefined) {
      hit = run(obj);
      cache.set(obj, hit);
    }
    return hit;
  }) as CachedParser<z.infer<S>>;
  parse.ingest = (obj) => {
    const r = run(obj);
    if (!r.ok) {
      cache.set(obj, r);
      return obj;
    }
    const value = r.value as { spec?: unknown; metadata: unknown };
    const out: KubeObject = { ...obj, spec: value.spec };
    cache.set(out, { ok: true, value: { ...value, metadata: out.metadata } as z.infer<S> });
    return out;
  };
  return parse;
}

// Only the spec matters for what the controller does; a status it cannot read (it writes statuses itself)
// must not make an object unusable, so statuses are read field by field where needed.
export const parseDecision = cachedParser(Decision.omit({ status: true }));
export const parseApproval = cachedParser(Approval.omit({ status: true }));
export const parseJob = cachedParser(Job.omit({ status: true }));
const parseProfileSpec = cachedParser(AgentProfileSpec);

export interface ParsedProposal {
  proposal: Omit<Proposal, 'status'>;
  /** The proposal hash (SHA-256 of the RFC 8785 form of the parsed spec). */
  hash: string;
}

const proposalParser = cachedParser(Proposal.omit({ status: true }));
const proposalHashes = new WeakMap<KubeObject, string>();

/**
 * The cached form of a Proposal, Decision, Approval or Job, for the informers' transform: parsed (once), then
 * compact (compact.ts) for a Decision, and for a Proposal or Job of a finished tree. An object that does not
 * parse is kept as it came (its failure remembered: the readers report it).
 */
export function ingestObject(kind: 'Proposal' | 'Decision' | 'Approval' | 'Job', obj: KubeObject): KubeObject {
  switch (kind) {
    case 'Proposal': {
      const out = proposalParser.ingest(obj);
      // The hash (canonical JSON of the spec) only for a finished one: the others' is computed when read.
      if (!proposalFinished(out)) return out;
      const parsed = parseProposal(out);
      return (parsed.ok && compactFinishedProposal(out, parsed.value.proposal.spec, parsed.value.hash)) || out;
    }
    case 'Decision': {
      const out = parseDecision.ingest(obj);
      const parsed = parseDecision(out);
      return parsed.ok ? compactDecision(out, parsed.value.spec) : out;
    }
    case 'Approval':
      return parseApproval.ingest(obj);
    case 'Job': {
      const out = parseJob.ingest(obj);
      const parsed = parseJob(out);
      return (parsed.ok && compactFinishedJob(out, parsed.value.spec)) || out;
    }
  }
}

/**
 * A Decision as the controller reads it: the cached compact form, or a whole Decision (our own write, a live
 * GET) parsed. Without the effective envelope: minting takes a whole Decision (proposal-reconciler.ts).
 */
export function decisionView(obj: KubeObject): Parsed<DecisionView> {
  const view = asDecisionView(obj);
  if (view !== undefined) return { ok: true, value: view };
  const r = parseDecision(obj);
  return r.ok ? { ok: true, value: r.value as unknown as DecisionView } : r;
}

/** Parses a Proposal and computes its hash once per object version. */
export function parseProposal(obj: KubeObject): Parsed<ParsedProposal> {
  const r = proposalParser(obj);
  if (!r.ok) return r;
  let hash = proposalHashes.get(obj);
  if (hash === undefined) {
    try {
      hash = canonicalHash(r.value.spec);
    } catch (err) {
      return { ok: false, error: `spec: ${(err as Error).message}` };
    }
    proposalHashes.set(obj, hash);
  }
  return { ok: true, value: { proposal: r.value, hash } };
}

/** The proposal hash of a Proposal in either form (compact.ts keeps it), or undefined when its spec does not parse. */
export function proposalHashOf(obj: KubeObject): string | undefined {
  const finished = asFinishedProposal(obj);
  if (finished !== undefined) return finished.hash;
  const r = parseProposal(obj);
  return r.ok ? r.value.hash : undefined;
}

/** An AgentProfile's spec, or undefined when the object is absent or invalid (the engine then denies). */
export function profileSpec(obj: KubeObject | undefined): AgentProfileSpec | undefined {
  if (obj === undefined || obj.metadata.deletionTimestamp !== undefined) return undefined;
  if (obj.spec === null || typeof obj.spec !== 'object') return undefined;
  const r = parseProfileSpec(obj.spec);
  return r.ok ? r.value : undefined;
}

/** Epoch ms of metadata.creationTimestamp (NaN when unreadable). */
export function createdAt(obj: KubeObject): number {
  const t = obj.metadata.creationTimestamp;
  return typeof t === 'string' ? Date.parse(t) : Number.NaN;
}
