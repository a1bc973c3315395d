// Typed views of cached objects. Informer objects are frozen and replaced on every change, so a parse is
// remembered per object identity: each version of an object is validated once, however often it is read.
// The informers parse Proposals, Decisions, Approvals and Jobs at ingest (ingestObject): the cached object
// then carries the parsed spec itself, so the typed form is the cached form (no second copy of the spec,
// no parse in any reconcile).
import type { z } from 'zod';
import { AgentProfileSpec } from '../api/agent-profile.ts';
import { firstIssue } from '../api/issues.ts';
import { Approval, Decision, Job, Proposal } from '../api/kinds.ts';
import { canonicalHash } from '../hash/canonical.ts';
import type { KubeObject } from '../runtime/resource.ts';

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

function cachedParser<S extends z.ZodType>(schema: S): CachedParser<z.infer<S>> {
  const cache = new WeakMap<object, Parsed<z.infer<S>>>();
  const run = (obj: object): Parsed<z.infer<S>> => {
    parseStats.parses++;
    const r = schema.safeParse(obj);
    return r.success ? { ok: true, value: r.data } : { ok: false, error: firstIssue(r.error) };
  };
  const parse = ((obj: object) => {
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

/** The parsed form of a cached Proposal, Decision, Approval or Job, for the informers' transform. */
export function ingestObject(kind: 'Proposal' | 'Decision' | 'Approval' | 'Job', obj: KubeObject): KubeObject {
  switch (kind) {
    case 'Proposal':
      return proposalParser.ingest(obj);
    case 'Decision':
      return parseDecision.ingest(obj);
    case 'Approval':
      return parseApproval.ingest(obj);
    case 'Job':
      return parseJob.ingest(obj);
  }
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
