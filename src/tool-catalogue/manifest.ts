import { z } from 'zod';
import { EffectTag } from '../api/effects.ts';
import { firstIssue } from '../api/issues.ts';
import { ExecutionMode, WriteScope } from '../api/envelope.ts';
import { canonicalHash } from '../hash/canonical.ts';
import manifestJson from './manifest.json' with { type: 'json' };
import { deepFreeze } from '../hash/freeze.ts';

/**
 * The runner's BUILT-IN tool manifest (legacy, issue 15 part A → B): what the runner executes today and
 * whose hash every envelope still carries (toolManifestHash). The catalogue proper is the cluster's Tool
 * objects (src/api/tool.ts, catalogue.ts, default-catalogue.ts); the engine sees these built-ins only as
 * its transitional fallback catalogue (builtin-catalogue.ts). One versioned file; its hash is over the
 * canonical form of the parsed manifest, so formatting changes do not matter and content changes always do.
 */

const ARG_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const TOOL_NAME = /^[a-z][a-z0-9_]*$/;

export const ArgSpec = z
  .object({
    type: z.literal('string'),
    required: z.boolean(),
    maxLength: z.int().min(1).max(65536),
    pathLike: z.boolean().optional(),
    enum: z.array(z.string().min(1).max(256)).min(1).max(64).optional(),
    format: z.literal('url').optional(),
  })
  .strict();
export type ArgSpec = z.infer<typeof ArgSpec>;

export const ToolSpec = z
  .object({
    name: z.string().min(1).max(63).regex(TOOL_NAME),
    description: z.string().min(1).max(1024),
    effects: z.array(EffectTag).min(1).max(13),
    minWriteScope: WriteScope,
    executionModes: z.array(ExecutionMode).min(1).max(3),
    args: z.record(z.string().min(1).max(63).regex(ARG_NAME), ArgSpec),
    suites: z.record(z.string().min(1).max(63), z.array(z.string().min(1).max(1024)).min(1).max(64)).optional(),
    timeoutSeconds: z.int().min(1).max(3600),
    network: z.boolean(),
  })
  .strict()
  .superRefine((tool, ctx) => {
    if (Object.keys(tool.args).length > 16) ctx.addIssue({ code: 'custom', path: ['args'], message: 'a tool takes at most 16 arguments' });
    for (const [name, spec] of Object.entries(tool.args)) {
      for (const v of spec.enum ?? []) {
        if (v.length > spec.maxLength) ctx.addIssue({ code: 'custom', path: ['args', name, 'enum'], message: `enum value ${v} is longer than maxLength` });
      }
    }
    if (tool.suites !== undefined) {
      // A suite is chosen by name through the `suite` argument; the names must be exactly the configured ones.
      const names = Object.keys(tool.suites).sort();
      const allowed = [...(tool.args.suite?.enum ?? [])].sort();
      if (names.join('\n') !== allowed.join('\n')) {
        ctx.addIssue({ code: 'custom', path: ['args', 'suite', 'enum'], message: 'must list exactly the configured suites' });
      }
    }
  });
export type ToolSpec = z.infer<typeof ToolSpec>;

export const ToolManifest = z
  .object({
    version: z.string().min(1).max(32).regex(/^\d+\.\d+\.\d+$/),
    tools: z.array(ToolSpec).min(1).max(64),
  })
  .strict()
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.tools.forEach((t, i) => {
      if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tools', i, 'name'], message: `duplicate tool ${t.name}` });
      seen.add(t.name);
    });
  });
export type ToolManifest = z.infer<typeof ToolManifest>;

export class ToolManifestError extends Error {
  override name = 'ToolManifestError';
}

/** Parses a manifest document; the error names the offending field. */
export function parseToolManifest(doc: unknown): ToolManifest {
  const parsed = ToolManifest.safeParse(doc);
  if (!parsed.success) {
    throw new ToolManifestError(`tool manifest ${firstIssue(parsed.error)}`);
  }
  return deepFreeze(parsed.data);
}

/** The manifest baked into this build (engine and runner load the same file). */
export const TOOL_MANIFEST: ToolManifest = parseToolManifest(manifestJson);

const hashes = new WeakMap<ToolManifest, string>();

/** SHA-256 of the RFC 8785 form of the parsed manifest (defaults to the baked one). */
export function toolManifestHash(manifest: ToolManifest = TOOL_MANIFEST): string {
  let h = hashes.get(manifest);
  if (h === undefined) {
    h = canonicalHash(manifest);
    hashes.set(manifest, h);
  }
  return h;
}

const indexes = new WeakMap<ToolManifest, ReadonlyMap<string, ToolSpec>>();

/** Looks a tool up by name; undefined when the manifest has no such tool. */
export function findTool(name: string, manifest: ToolManifest = TOOL_MANIFEST): ToolSpec | undefined {
  let index = indexes.get(manifest);
  if (index === undefined) {
    index = new Map(manifest.tools.map((t) => [t.name, t]));
    indexes.set(manifest, index);
  }
  return index.get(name);
}

export { validateStepArgs } from './args.ts';
export type { ArgIssue } from './args.ts';
