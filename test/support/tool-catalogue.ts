// The tool catalogue the tests decide and run against: the shipped Tools (what the chart installs) plus two
// test-only Tools for steps that only need to be harmless — `echo` (prints its message) and `write-file`
// (writes one file in the workspace). They are ordinary Tool specs in the shipped git image (which has
// /bin/sh and printf), created as Tool objects where a test needs them in a cluster (toolObjects); the
// product ships no such toys.
import type { EnvelopeStep } from '../../src/api/envelope.ts';
import type { ToolSpecInput } from '../../src/api/tool.ts';
import { catalogueOf, type ToolCatalogue } from '../../src/tool-catalogue/catalogue.ts';
import { GIT_TOOL_IMAGE, SHIPPED_TOOLS } from '../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../src/tool-catalogue/tool-hash.ts';

export const TEST_ONLY_TOOLS: Readonly<Record<string, ToolSpecInput>> = {
  echo: {
    description: 'Prints its message (test fixture).',
    effects: ['COMPUTE'],
    minWriteScope: 'none',
    executionModes: ['commit', 'draft', 'preview'],
    args: { message: { type: 'string', required: true, maxLength: 4096, multiline: true, allowLeadingDash: true } },
    image: GIT_TOOL_IMAGE,
    // The format is a literal: the message is printf's operand, never its format or an option.
    argv: [{ literal: 'printf' }, { literal: '%s\\n' }, { arg: 'message' }],
    timeoutSeconds: 30,
    network: false,
    workspace: { access: 'none', outputs: [] },
  },
  'write-file': {
    description: 'Writes content to one file in the workspace, creating its directories (test fixture).',
    effects: ['WRITE_PATCH'],
    minWriteScope: 'sandbox',
    executionModes: ['commit', 'draft'],
    args: {
      path: { type: 'string', required: true, maxLength: 1024, pathLike: true },
      content: { type: 'string', required: true, maxLength: 65536, multiline: true, allowLeadingDash: true },
    },
    image: GIT_TOOL_IMAGE,
    // The script is a literal; path and content reach it as positional parameters, never as shell text. The
    // runner has already refused a path outside the workspace or through a symlink leading out of it.
    argv: [
      { literal: 'sh' },
      { literal: '-c' },
      { literal: 'mkdir -p -- "$(dirname -- "$1")" && printf %s "$2" > "$1"' },
      { literal: 'write-file' },
      { arg: 'path' },
      { arg: 'content' },
    ],
    timeoutSeconds: 30,
    network: false,
    workspace: { access: 'writable', outputs: [] },
  },
};

export const TEST_TOOLS: Readonly<Record<string, ToolSpecInput>> = { ...SHIPPED_TOOLS, ...TEST_ONLY_TOOLS };

/** The shipped Tools and the test-only ones, parsed. */
export const TEST_CATALOGUE: ToolCatalogue = catalogueOf(Object.entries(TEST_TOOLS));

/** An envelope step bound to the catalogue's tool (its hash and image), as the engine writes it. */
export function boundStep(tool: string, args: Record<string, string> = {}, catalogue: ToolCatalogue = TEST_CATALOGUE): EnvelopeStep {
  const spec = catalogue.get(tool);
  if (spec === undefined) throw new Error(`test catalogue has no tool ${tool}`);
  return { tool, args, toolHash: toolHash(spec), image: spec.image };
}
