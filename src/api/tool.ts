import { z } from 'zod';
import { effectSet } from './effects.ts';
import { ExecutionMode, WriteScope } from './envelope.ts';
import { DIGEST_PINNED_IMAGE, DIGEST_PINNED_IMAGE_PATTERN, IMAGE_MESSAGE } from './image.ts';
import { boundedList, characterCount, nonEmptyText, text } from './primitives.ts';

/**
 * A catalogue entry: one tool a governed Job may run, owned by platform admins (cluster-scoped kind Tool;
 * metadata.name is the name a Proposal step uses). Everything the runner needs to run it is here and
 * nothing else: the container image pinned by digest, an argv template whose placeholders are each
 * replaced by exactly one whole argument (never through a shell, never spliced into a literal), literal
 * environment variables only, a timeout, the network need, what the workspace gives it and what it leaves.
 * The tool hash (SHA-256 of the RFC 8785 form of the parsed spec) is what a Decision binds.
 */

/** A Tool's name as a step names it: a DNS label, so it is a valid object name. */
export const TOOL_NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
export const TOOL_NAME = new RegExp(TOOL_NAME_PATTERN);
export const TOOL_NAME_MAX = 63;

/** Argument names, as in Proposal steps (src/api/primitives.ts StepArgs). */
const ARG_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_]*$';
export const MAX_TOOL_ARGS = 16;
export const MAX_ARG_LENGTH = 65536;

export const ARG_TYPES = ['string', 'int', 'bool', 'enum'] as const;
export const ARG_FORMATS = ['url', 'gitCommit', 'patch'] as const;
/** Integer arguments stay within what JSON and CEL represent exactly. */
export const ARG_INT_BOUND = 1_000_000_000_000;

export const ToolArg = z
  .object({
    type: z.enum(ARG_TYPES).meta({
      description:
        'string (bounded by maxLength), int (decimal, within minimum..maximum), bool (true or false) or enum (one of enum). Values reach the tool as one whole argv item each.',
    }),
    description: text(1024, 'What the argument means (shown by kubectl m87 tools -o json).').optional(),
    required: z.boolean().default(false).meta({ description: 'Whether a step must give the argument (an empty string counts as not given).' }),
    default: text(MAX_ARG_LENGTH, 'Value used when a step does not give the argument; validated like a given value.').optional(),
    maxLength: z.int().min(1).max(MAX_ARG_LENGTH).optional().meta({ description: `Maximum length in characters (1..${MAX_ARG_LENGTH}); required for string arguments.` }),
    enum: z
      .array(nonEmptyText(256, 'An allowed value.'))
      .min(1)
      .max(64)
      .refine((v) => new Set(v).size === v.length, { message: 'enum values must not repeat' })
      .optional()
      .meta({ description: 'The allowed values of an enum argument (and only of one).', 'x-kubernetes-list-type': 'set' }),
    minimum: z.int().min(-ARG_INT_BOUND).max(ARG_INT_BOUND).optional().meta({ description: 'Smallest value of an int argument.' }),
    maximum: z.int().min(-ARG_INT_BOUND).max(ARG_INT_BOUND).optional().meta({ description: 'Largest value of an int argument.' }),
    pathLike: z
      .boolean()
      .optional()
      .meta({
        description:
          'The string names a path in the job workspace: it must be relative or below /workspace, contain no .. segment, and is checked against the policy virtual-filesystem rules.',
      }),
    format: z
      .enum(ARG_FORMATS)
      .optional()
      .meta({
        description:
          'url: an http(s) URL without credentials; gitCommit: a full commit id (40 or 64 lowercase hex); patch: a unified diff whose every file path stays inside the workspace (implies multiline). String arguments only.',
      }),
    multiline: z
      .boolean()
      .optional()
      .meta({ description: 'Allow newlines, carriage returns and tabs in the value (for example a patch). Other control characters and NUL are always refused.' }),
    allowLeadingDash: z
      .boolean()
      .default(false)
      .meta({
        description:
          'Allow a value that starts with "-". Off by default so a value cannot smuggle in an option; a placeholder after a literal "--" in argv is exempt, since the tool reads everything after it as operands.',
      }),
  })
  .superRefine((a, ctx) => {
    const bad = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (a.type === 'string' && a.maxLength === undefined) bad('maxLength', 'a string argument needs maxLength');
    if ((a.type === 'enum') !== (a.enum !== undefined)) bad('enum', 'enum lists the values of an enum argument, and only of one');
    if (a.type !== 'int' && (a.minimum !== undefined || a.maximum !== undefined)) bad('minimum', 'minimum and maximum apply to int arguments only');
    if (a.minimum !== undefined && a.maximum !== undefined && a.minimum > a.maximum) bad('minimum', 'must not exceed maximum');
    if (a.type !== 'string' && (a.pathLike === true || a.format !== undefined || a.multiline === true)) {
      bad('type', 'pathLike, format and multiline apply to string arguments only');
    }
    if (a.pathLike === true && a.format !== undefined) bad('format', 'a pathLike argument has no format');
    if (a.maxLength !== undefined && a.default !== undefined && characterCount(a.default) > a.maxLength) bad('default', 'is longer than maxLength');
    if (a.maxLength !== undefined) for (const v of a.enum ?? []) if (characterCount(v) > a.maxLength) bad('enum', `value ${v} is longer than maxLength`);
  })
  .meta({
    description: 'The schema of one argument: typed and bounded. A value outside it denies the proposal.',
    'x-kubernetes-validations': [
      { rule: "self.type != 'string' || has(self.maxLength)", message: 'a string argument needs maxLength' },
      { rule: "(self.type == 'enum') == has(self.enum)", message: 'enum lists the values of an enum argument, and only of one' },
      { rule: "self.type == 'int' || (!has(self.minimum) && !has(self.maximum))", message: 'minimum and maximum apply to int arguments only' },
      { rule: '!has(self.minimum) || !has(self.maximum) || self.minimum <= self.maximum', message: 'minimum must not exceed maximum' },
      {
        rule: "self.type == 'string' || ((!has(self.pathLike) || !self.pathLike) && !has(self.format) && (!has(self.multiline) || !self.multiline))",
        message: 'pathLike, format and multiline apply to string arguments only',
      },
      { rule: '!has(self.pathLike) || !self.pathLike || !has(self.format)', message: 'a pathLike argument has no format' },
      { rule: '!has(self.default) || !has(self.maxLength) || size(self.default) <= self.maxLength', message: 'default is longer than maxLength' },
    ],
  });
export type ToolArg = z.infer<typeof ToolArg>;
export type ToolArgInput = z.input<typeof ToolArg>;

export const ToolArgs = z
  .record(z.string().min(1).max(63).regex(new RegExp(ARG_NAME_PATTERN)), ToolArg)
  .refine((args) => Object.keys(args).length <= MAX_TOOL_ARGS, { message: `at most ${MAX_TOOL_ARGS} arguments` })
  .meta({ description: 'The arguments a step may give, by name (a step giving any other argument is denied).', maxProperties: MAX_TOOL_ARGS });

export const ArgvItem = z
  .object({
    literal: text(4096, 'A fixed argv item, passed as written (never split or interpreted by a shell).')
      .meta({ 'x-kubernetes-validations': [{ rule: "!self.matches('\\\\x00')", message: 'a literal cannot contain NUL' }] })
      .optional(),
    arg: z
      .string()
      .min(1)
      .max(63)
      .regex(new RegExp(ARG_NAME_PATTERN))
      .optional()
      .meta({ description: 'Name of an argument whose value becomes this whole argv item (never part of another item).' }),
  })
  .refine((i) => (i.literal === undefined) !== (i.arg === undefined), { message: 'an argv item is exactly one of literal or arg' })
  .refine((i) => i.literal === undefined || !i.literal.includes('\u0000'), { message: 'a literal cannot contain NUL', path: ['literal'] })
  .meta({
    description: 'One argv item: a literal, or a placeholder {arg: name} replaced by that argument as one whole item.',
    'x-kubernetes-validations': [{ rule: 'has(self.literal) != has(self.arg)', message: 'an argv item is exactly one of literal or arg' }],
  });
export type ArgvItem = z.infer<typeof ArgvItem>;

export const EnvVar = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .meta({ description: 'Variable name (letters, digits, underscore; not starting with a digit).' }),
    value: text(4096, 'Literal value. There is no valueFrom: a tool never receives secrets.'),
  })
  .strict()
  .meta({ description: 'One literal environment variable.' });

export const WORKSPACE_ACCESS = ['none', 'readOnly', 'writable'] as const;
export const OUTPUT_KINDS = ['file', 'patch'] as const;
export const MAX_OUTPUT_BYTES = 1_048_576;

/** A workspace-relative path: no leading or doubled slash, no . or .. segment (checked without lookarounds, which RE2 lacks). */
function isRelativeWorkspacePath(p: string): boolean {
  return /^[A-Za-z0-9._\-/]+$/.test(p) && p.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

export const ToolOutput = z
  .object({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-z]([-a-z0-9]*[a-z0-9])?$/)
      .meta({ description: 'Output name (a DNS label), unique in the tool; kubectl m87 artifacts shows it.' }),
    kind: z.enum(OUTPUT_KINDS).meta({ description: 'file: the file at path after the step; patch: the diff of the workspace against its input commit.' }),
    path: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z0-9._\-/]+$/)
      .refine(isRelativeWorkspacePath, { message: 'must be relative to the workspace, without empty, . or .. segments' })
      .optional()
      .meta({
        description: 'For kind file: a path relative to the workspace (letters, digits, . _ - /; no empty, . or .. segment).',
        'x-kubernetes-validations': [
          { rule: "!self.startsWith('/') && !self.endsWith('/') && !self.contains('//') && !self.matches('(^|/)[.][.]?(/|$)')", message: 'must be relative to the workspace, without empty, . or .. segments' },
        ],
      }),
    maxBytes: z.int().min(1).max(MAX_OUTPUT_BYTES).meta({ description: `Size cap in bytes (1..${MAX_OUTPUT_BYTES}); a larger output fails the step, it is never truncated.` }),
  })
  .refine((o) => o.kind !== 'file' || o.path !== undefined, { message: 'a file output needs a path', path: ['path'] })
  .meta({
    description: 'A declared output, collected by the runner with its digest in the receipt.',
    'x-kubernetes-validations': [{ rule: "self.kind != 'file' || has(self.path)", message: 'a file output needs a path' }],
  });
export type ToolOutput = z.infer<typeof ToolOutput>;

export const GitInput = z
  .object({
    repositoryArg: z
      .string()
      .min(1)
      .max(63)
      .regex(new RegExp(ARG_NAME_PATTERN))
      .meta({ description: 'The argument (format url) naming the repository; its host must be in the envelope egress allowlist.' }),
    commitArg: z
      .string()
      .min(1)
      .max(63)
      .regex(new RegExp(ARG_NAME_PATTERN))
      .meta({ description: 'The argument (format gitCommit) naming the commit to check out; the runner verifies it.' }),
  })
  .meta({ description: 'A git repository at a pinned commit, fetched by the runner through its egress gate into the workspace before the step.' });

export const ToolWorkspace = z
  .object({
    access: z
      .enum(WORKSPACE_ACCESS)
      .default('readOnly')
      .meta({ description: 'How the step sees /workspace: none, readOnly or writable (writable needs a minWriteScope above none).' }),
    git: GitInput.optional(),
    outputs: boundedList(ToolOutput, 8, 'Outputs the step produces.')
      .default([])
      .refine((outs) => new Set(outs.map((o) => o.name)).size === outs.length, { message: 'output names must not repeat' })
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
  })
  .meta({ description: 'What the tool takes from the job workspace and what it leaves there.' });

export const ToolSpec = z
  .object({
    description: nonEmptyText(1024, 'What the tool does, for agents and approvers.'),
    effects: effectSet('Effects running the tool has; a proposal using it must declare every one (else DENY).', { min: 1 }),
    minWriteScope: WriteScope.meta({ description: 'Least write scope the envelope must grant: none, sandbox, staging or prod.' }),
    executionModes: z
      .array(ExecutionMode)
      .min(1)
      .max(3)
      .refine((m) => new Set(m).size === m.length, { message: 'execution modes must not repeat' })
      .meta({ description: 'Execution modes the tool supports (commit, draft, preview).', 'x-kubernetes-list-type': 'set' }),
    args: ToolArgs.default({}),
    image: z
      .string()
      .min(1)
      .max(512)
      .refine((s) => DIGEST_PINNED_IMAGE.test(s), { message: IMAGE_MESSAGE })
      .meta({
        description: 'Container image the step runs in, pinned by digest: repository@sha256:<64 lowercase hex>. Tags are refused.',
        maxLength: 512,
        'x-kubernetes-validations': [{ rule: `self.matches('${DIGEST_PINNED_IMAGE_PATTERN.replace(/\\/g, '\\\\')}')`, message: IMAGE_MESSAGE }],
      }),
    argv: boundedList(ArgvItem, 64, 'The command: argv[0] (a literal: the program is the tool author\'s, never the caller\'s) first. Run directly (execve), never through a shell.')
      .min(1)
      .refine((argv) => argv[0]?.literal !== undefined, { message: 'argv[0] must be a literal: a step never chooses the program', path: [0] })
      .meta({ 'x-kubernetes-validations': [{ rule: 'has(self[0].literal)', message: 'argv[0] must be a literal: a step never chooses the program' }] }),
    env: boundedList(EnvVar, 32, 'Literal environment variables (no secrets, no valueFrom).')
      .default([])
      .refine((vars) => new Set(vars.map((v) => v.name)).size === vars.length, { message: 'environment variable names must not repeat' })
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] }),
    timeoutSeconds: z.int().min(1).max(3600).meta({ description: 'Step timeout in seconds (1..3600); the job budget may cut it shorter.' }),
    network: z.boolean().meta({ description: 'Whether the step needs the network (only through the runner egress gate, to the envelope allowlist).' }),
    workspace: ToolWorkspace.default({ access: 'readOnly', outputs: [] }),
  })
  .strict()
  .superRefine((t, ctx) => {
    t.argv.forEach((item, i) => {
      if (item.arg === undefined) return;
      const arg = Object.hasOwn(t.args, item.arg) ? t.args[item.arg] : undefined;
      if (arg === undefined) ctx.addIssue({ code: 'custom', path: ['argv', i, 'arg'], message: `names no argument in args` });
      else if (!arg.required && arg.default === undefined) {
        // Dropping the item would shift every later argument into another position.
        ctx.addIssue({ code: 'custom', path: ['argv', i, 'arg'], message: `argument ${item.arg} is used in argv, so it must be required or have a default` });
      }
    });
    const git = t.workspace.git;
    if (git !== undefined) {
      for (const [key, format] of [
        ['repositoryArg', 'url'],
        ['commitArg', 'gitCommit'],
      ] as const) {
        const arg = Object.hasOwn(t.args, git[key]) ? t.args[git[key]] : undefined;
        if (arg?.format !== format || !arg.required) {
          ctx.addIssue({ code: 'custom', path: ['workspace', 'git', key], message: `must name a required argument of format ${format}` });
        }
      }
    }
    if (t.workspace.access === 'writable' && t.minWriteScope === 'none') {
      ctx.addIssue({ code: 'custom', path: ['workspace', 'access'], message: 'a writable workspace needs a minWriteScope above none' });
    }
  })
  .meta({
    description: 'A tool of the catalogue. The Decision binds its hash; a Job whose tool changed afterwards does not start.',
    'x-kubernetes-validations': [
      { rule: 'self.argv.all(i, !has(i.arg) || i.arg in self.args)', message: 'argv: every {arg} placeholder must name an argument in args' },
      {
        rule: 'self.argv.all(i, !has(i.arg) || !(i.arg in self.args) || self.args[i.arg].required || has(self.args[i.arg].default))',
        message: 'argv: an argument used in argv must be required or have a default',
      },
      {
        rule: "!has(self.workspace.git) || (self.workspace.git.repositoryArg in self.args && self.workspace.git.commitArg in self.args)",
        message: 'workspace.git: repositoryArg and commitArg must name arguments in args',
      },
      { rule: "self.workspace.access != 'writable' || self.minWriteScope != 'none'", message: 'workspace.access: a writable workspace needs a minWriteScope above none' },
    ],
  });
export type ToolSpec = z.infer<typeof ToolSpec>;
export type ToolSpecInput = z.input<typeof ToolSpec>;

export const ToolStatus = z.object({}).meta({ description: 'Unused: a Tool is configuration.' });
