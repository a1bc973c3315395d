// Typed views of cached objects. Informer objects are frozen and replaced on every change, so a parse is
// remembered per object identity: each version of an object is validated once, however often it is read.
import type { z } from 'zod';
import { AgentProfileSpec } from '../api/agent-profile.ts';
import { firstIssue } from '../api/issues.ts';
import { Approval, Decision, Job, Proposal } from '../api/kinds.ts';
import { canonicalHash } from '../hash/canonical.ts';
import type { KubeObject } from '../runtime/resource.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function cachedParser<S extends z.ZodType>(schema: S): (obj: object) => Parsed<z.infer<S>> {
  const cache = new WeakMap<object, Parsed<z.infer<S>>>();
  return (obj) => {
    let hit = cache.get(obj);
    if (hit === undefined) {
      const r = schema.safeParse(obj);
      if (r.success) hit = { ok: true, value: r.data };
      else hit = { ok: false, error: firstIssue(r.error) };
      cache.set(obj, hit);
    }
    return hit;
  };
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
