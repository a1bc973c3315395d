import { PLACEHOLDER_DIGEST } from '../api/image.ts';
import type { ToolArgInput, ToolSpecInput } from '../api/tool.ts';
import { catalogueOf, type ToolCatalogue } from './catalogue.ts';
import { TOOL_MANIFEST, type ArgSpec, type ToolSpec as BuiltinToolSpec } from './manifest.ts';

/**
 * TRANSITIONAL (issue 15 part A → part B). The runner still executes its built-in tools (manifest.json:
 * echo, file_write, run_tests, http_get, notify) and checks the envelope's toolManifestHash against them.
 * Until the controller passes the catalogue from its Tool cache and the runner runs Tool images, the engine
 * decides steps against these built-ins, expressed as Tool specs so the envelope already carries a tool
 * hash and an image per step. Their image is the M87 image (placeholder digest) and their argv names the
 * built-in: the runner implements them itself, so every argument keeps the manifest's semantics (no
 * option-injection check: nothing is passed to another program). Part B deletes this file.
 */
const BUILTIN_IMAGE = `ghcr.io/m87/m87@${PLACEHOLDER_DIGEST}`;

function argOf(a: ArgSpec): ToolArgInput {
  const common = { required: a.required, allowLeadingDash: true };
  if (a.enum !== undefined) return { ...common, type: 'enum', enum: [...a.enum], maxLength: a.maxLength };
  return {
    ...common,
    type: 'string',
    maxLength: a.maxLength,
    multiline: true,
    ...(a.pathLike === true ? { pathLike: true } : {}),
    ...(a.format !== undefined ? { format: a.format } : {}),
  };
}

function toolOf(t: BuiltinToolSpec): ToolSpecInput {
  return {
    description: t.description,
    effects: [...t.effects],
    minWriteScope: t.minWriteScope,
    executionModes: [...t.executionModes],
    args: Object.fromEntries(Object.entries(t.args).map(([n, a]) => [n, argOf(a)])),
    image: BUILTIN_IMAGE,
    argv: [{ literal: 'm87' }, { literal: 'builtin' }, { literal: t.name }],
    timeoutSeconds: t.timeoutSeconds,
    network: t.network,
    workspace: { access: t.minWriteScope === 'none' ? 'readOnly' : 'writable', outputs: [] },
  };
}

/** The runner's built-in tools as a catalogue; names keep their underscores (they are never objects). */
export const BUILTIN_CATALOGUE: ToolCatalogue = catalogueOf(TOOL_MANIFEST.tools.map((t) => [t.name, toolOf(t)] as const), { allowBuiltinNames: true });
