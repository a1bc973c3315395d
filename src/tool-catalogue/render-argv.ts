import { characterCount } from '../api/primitives.ts';
import { ARG_INT_BOUND, type ToolArg, type ToolSpec } from '../api/tool.ts';
import { isInWorkspace, normalisePath } from './workspace-path.ts';

/**
 * Step arguments → the argv a tool runs with. Pure: the engine calls it to decide (a hostile value is a
 * DENY before anyone is asked to approve) and the runner calls it again right before the step. Every
 * placeholder becomes exactly one whole argv item holding exactly one argument value; literals are copied;
 * nothing is split, joined or passed through a shell.
 */

export const ARG_ISSUE_CODES = [
  'ARG_UNKNOWN',
  'ARG_MISSING',
  'ARG_NOT_STRING',
  'ARG_TOO_LONG',
  'ARG_INVALID_UNICODE',
  'ARG_CONTROL_CHARACTER',
  'ARG_OPTION_INJECTION',
  'ARG_PATH_ESCAPES_WORKSPACE',
  'ARG_NOT_INT',
  'ARG_OUT_OF_RANGE',
  'ARG_NOT_BOOL',
  'ARG_NOT_IN_ENUM',
  'ARG_URL_INVALID',
  'ARG_COMMIT_INVALID',
  'ARG_PATCH_INVALID',
  'ARGV_TOO_LONG',
] as const;
export type ArgIssueCode = (typeof ARG_ISSUE_CODES)[number];

/** One refused argument; `arg` names it (empty for ARGV_TOO_LONG, which is about the whole command). */
export interface ArgIssue {
  code: ArgIssueCode;
  arg: string;
  message: string;
}

export type RenderResult = { ok: true; argv: string[] } | { ok: false; issues: ArgIssue[] };

/** Linux refuses a single argv item of 128 KiB or more (MAX_ARG_STRLEN, counting the NUL). */
export const MAX_ARGV_ITEM_BYTES = 131_071;
/** Well below the usual 2 MiB ARG_MAX, which argv and the environment share. */
export const MAX_ARGV_TOTAL_BYTES = 1_048_576;

const INT = /^-?(0|[1-9][0-9]*)$/;
const GIT_COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
// C0 controls, DEL, C1 controls and the Unicode line/paragraph separators: each can forge a line in a log
// or a terminal, and NUL cannot be passed in argv at all.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// eslint-disable-next-line no-control-regex -- as above, without \t \n \r
const CONTROL_EXCEPT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/;

function describeChar(s: string): string {
  const m = CONTROL.exec(s);
  const c = m?.[0] ?? '';
  if (c === '\u0000') return 'NUL';
  if (c === '\n') return 'a newline';
  if (c === '\r') return 'a carriage return';
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

function urlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return 'is not a URL';
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http or https URL, not ${url.protocol}`;
  // Credentials in a URL would end up in logs, receipts and the hashed envelope.
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  return undefined;
}

/** Why a workspace path argument is refused, or undefined when it stays inside the workspace. */
export function workspacePathProblem(value: string): string | undefined {
  if (value.split('/').includes('..')) return 'contains a .. segment';
  if (value.startsWith('/') && !isInWorkspace(normalisePath(value))) return `is an absolute path outside the workspace (${normalisePath(value)})`;
  return undefined;
}

// The header lines of a unified or git diff that name a file: ---/+++ (with an optional a/ or b/ prefix and
// a tab-separated timestamp), diff --git a/x b/y, and git's rename/copy lines.
const DIFF_FILE_LINES = /^(?:(?:---|\+\+\+) (.*)|(?:rename|copy) (?:from|to) (.*))$/;
const DIFF_GIT = /^diff --git (\S+) (\S+)$/;

/** Every file path a unified diff touches, as written (prefix a/ or b/ removed; /dev/null skipped). */
export function patchPaths(patch: string): string[] {
  const paths: string[] = [];
  const add = (raw: string) => {
    let p = raw.split('\t')[0] ?? '';
    if (p.startsWith('"')) p = p.slice(1, p.endsWith('"') ? -1 : undefined);
    if (p === '/dev/null') return;
    if (p.startsWith('a/') || p.startsWith('b/')) p = p.slice(2);
    paths.push(p);
  };
  for (const line of patch.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    const git = DIFF_GIT.exec(l);
    if (git !== null) {
      add(git[1] ?? '');
      add(git[2] ?? '');
      continue;
    }
    const m = DIFF_FILE_LINES.exec(l);
    if (m !== null) add(m[1] ?? m[2] ?? '');
  }
  return paths;
}

/** Checks one value against its argument schema; the issue (without the argument name) or undefined. */
function valueIssue(arg: ToolArg, value: string, mayStartWithDash: boolean): { code: ArgIssueCode; message: string } | undefined {
  if (!value.isWellFormed()) return { code: 'ARG_INVALID_UNICODE', message: 'is not well-formed Unicode (lone surrogate)' };
  const multiline = arg.multiline === true || arg.format === 'patch';
  if ((multiline ? CONTROL_EXCEPT_LINES : CONTROL).test(value)) {
    return { code: 'ARG_CONTROL_CHARACTER', message: `contains ${describeChar(value)}${multiline ? '' : ' (the argument is not multiline)'}` };
  }
  // UTF-8 needs at most 3 bytes per UTF-16 unit and a string has at most as many code points as units, so
  // the exact (slower) counts are only needed for long values.
  if (value.length * 3 > MAX_ARGV_ITEM_BYTES && Buffer.byteLength(value, 'utf8') > MAX_ARGV_ITEM_BYTES) {
    return { code: 'ARG_TOO_LONG', message: `is longer than ${MAX_ARGV_ITEM_BYTES} bytes (one argv item)` };
  }
  switch (arg.type) {
    case 'string':
      if (arg.maxLength !== undefined && value.length > arg.maxLength && characterCount(value) > arg.maxLength) {
        return { code: 'ARG_TOO_LONG', message: `is longer than ${arg.maxLength} characters` };
      }
      break;
    case 'int': {
      if (!INT.test(value)) return { code: 'ARG_NOT_INT', message: 'must be a decimal integer' };
      const n = Number(value);
      const min = arg.minimum ?? -ARG_INT_BOUND;
      const max = arg.maximum ?? ARG_INT_BOUND;
      if (n < min || n > max) return { code: 'ARG_OUT_OF_RANGE', message: `must be within ${min}..${max}` };
      break;
    }
    case 'bool':
      if (value !== 'true' && value !== 'false') return { code: 'ARG_NOT_BOOL', message: 'must be true or false' };
      break;
    case 'enum':
      if (!(arg.enum ?? []).includes(value)) return { code: 'ARG_NOT_IN_ENUM', message: `must be one of ${(arg.enum ?? []).join(', ')}` };
      break;
  }
  if (value.startsWith('-') && !mayStartWithDash && !arg.allowLeadingDash) {
    return { code: 'ARG_OPTION_INJECTION', message: 'starts with "-" and would be read as an option (the tool neither allows it nor places the argument after "--")' };
  }
  if (arg.pathLike === true) {
    const problem = workspacePathProblem(value);
    if (problem !== undefined) return { code: 'ARG_PATH_ESCAPES_WORKSPACE', message: problem };
  }
  if (arg.format === 'url') {
    const problem = urlProblem(value);
    if (problem !== undefined) return { code: 'ARG_URL_INVALID', message: problem };
  }
  if (arg.format === 'gitCommit' && !GIT_COMMIT.test(value)) return { code: 'ARG_COMMIT_INVALID', message: 'must be a full commit id (40 or 64 lowercase hex)' };
  if (arg.format === 'patch') {
    const paths = patchPaths(value);
    if (paths.length === 0) return { code: 'ARG_PATCH_INVALID', message: 'names no file (not a unified diff)' };
    for (const p of paths) {
      const problem = p === '' ? 'has an empty file name' : workspacePathProblem(p);
      if (problem !== undefined) return { code: 'ARG_PATH_ESCAPES_WORKSPACE', message: `touches ${JSON.stringify(p)}, which ${problem}` };
    }
  }
  return undefined;
}

/**
 * Argument names whose every argv position follows a literal "--" (the end of options for getopt-style
 * tools): their values may start with "-" because the tool reads them as operands.
 */
function afterEndOfOptions(tool: ToolSpec): ReadonlySet<string> {
  const before = new Set<string>();
  const after = new Set<string>();
  let ended = false;
  for (const item of tool.argv) {
    if (item.literal === '--') ended = true;
    else if (item.arg !== undefined) (ended ? after : before).add(item.arg);
  }
  for (const name of before) after.delete(name);
  return after;
}

const operandCache = new WeakMap<ToolSpec, ReadonlySet<string>>();

/**
 * The value each argument takes (given and non-empty, else its default), and every issue: unknown
 * arguments, missing required ones, and values outside their schema. Issues come in the tool's argument
 * order after the unknown ones, so the same input always gives the same list.
 */
export function resolveArgs(tool: ToolSpec, args: Readonly<Record<string, unknown>> | undefined): { values: Map<string, string>; issues: ArgIssue[] } {
  const given = args ?? {};
  const issues: ArgIssue[] = [];
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(tool.args, name)) issues.push({ code: 'ARG_UNKNOWN', arg: name, message: 'is not an argument of the tool' });
  }
  let operands = operandCache.get(tool);
  if (operands === undefined) {
    operands = afterEndOfOptions(tool);
    if (Object.isFrozen(tool)) operandCache.set(tool, operands);
  }
  const values = new Map<string, string>();
  for (const [name, spec] of Object.entries(tool.args)) {
    const raw = Object.hasOwn(given, name) ? given[name] : undefined;
    if (raw !== undefined && typeof raw !== 'string') {
      issues.push({ code: 'ARG_NOT_STRING', arg: name, message: 'must be a string' });
      continue;
    }
    const value = raw === undefined || raw === '' ? spec.default : raw;
    if (value === undefined) {
      if (spec.required) issues.push({ code: 'ARG_MISSING', arg: name, message: 'is required' });
      continue;
    }
    const issue = valueIssue(spec, value, operands.has(name));
    if (issue !== undefined) issues.push({ ...issue, arg: name });
    else values.set(name, value);
  }
  return { values, issues };
}

/** Validates the arguments and substitutes them into the tool's argv template. */
export function renderArgv(tool: ToolSpec, args: Readonly<Record<string, unknown>> | undefined): RenderResult {
  const { values, issues } = resolveArgs(tool, args);
  if (issues.length > 0) return { ok: false, issues };
  const argv: string[] = [];
  let units = 0;
  for (const item of tool.argv) {
    // The schema guarantees a placeholder names an argument that is required or has a default, so a valid
    // set of arguments always has a value here; a missing one would be a bug, and refusing is the safe side.
    const value = item.arg !== undefined ? values.get(item.arg) : item.literal;
    if (value === undefined) return { ok: false, issues: [{ code: 'ARG_MISSING', arg: item.arg ?? '', message: 'has no value for its argv position' }] };
    argv.push(value);
    units += value.length + 1;
  }
  if (units * 3 > MAX_ARGV_TOTAL_BYTES) {
    const bytes = argv.reduce((n, v) => n + Buffer.byteLength(v, 'utf8') + 1, 0);
    if (bytes > MAX_ARGV_TOTAL_BYTES) return { ok: false, issues: [{ code: 'ARGV_TOO_LONG', arg: '', message: `the command is ${bytes} bytes, more than ${MAX_ARGV_TOTAL_BYTES}` }] };
  }
  return { ok: true, argv };
}
