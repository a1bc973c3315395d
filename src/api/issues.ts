// How a schema violation is named in messages, everywhere the project reports one: the field as a path
// (`spec.steps[0].tool`) and zod's message.
import type { z } from 'zod';

/** `root.a.b[0].c`; the bare root (or "(root)") for an empty path. */
export function fieldPath(path: readonly PropertyKey[], root = ''): string {
  let out = root;
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out === '' ? String(k) : `.${String(k)}`;
  return out === '' ? '(root)' : out;
}

/** One issue as "field: message"; an unknown key is named as a field of its own ("a.b.extra: unknown field"). */
export function formatIssue(issue: Pick<z.core.$ZodIssue, 'path' | 'message'> & { code?: string; keys?: readonly string[] }, root = ''): string {
  if (issue.code === 'unrecognized_keys' && issue.keys !== undefined && issue.keys.length > 0) return `${fieldPath([...issue.path, issue.keys[0]!], root)}: unknown field`;
  return `${fieldPath(issue.path, root)}: ${issue.message}`;
}

/** The first issue of a failed parse as "field: message" (a parse failure always has one). */
export function firstIssue(error: z.ZodError, root = ''): string {
  const issue = error.issues[0];
  return issue === undefined ? `${root === '' ? '(root)' : root}: invalid` : formatIssue(issue, root);
}
