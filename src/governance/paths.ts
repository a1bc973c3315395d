import type { VirtualFsRule } from '../api/governance-policy.ts';
import { normalisePath } from '../tool-catalogue/workspace-path.ts';

export { normalisePath, WORKSPACE } from '../tool-catalogue/workspace-path.ts';

// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const FILE_URL = /^file:/i;

/** Strips a file: URL down to its path (file:///sys, file://host/sys and file:/sys all name /sys). */
function fileUrlPath(value: string): string {
  let rest = value.slice('file:'.length);
  if (rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    rest = slash === -1 ? '/' : rest.slice(slash);
  }
  return rest;
}

export interface CompiledFsRule {
  mountPoint: string;
  /** mountPoint + '/', the prefix of everything below it. */
  prefix: string;
  deny: boolean;
  allowed: ReadonlySet<string>;
  reason: string;
}

export function compileFsRules(rules: readonly VirtualFsRule[]): CompiledFsRule[] {
  return rules.map((r) => {
    const mountPoint = normalisePath(r.mountPoint);
    return {
      mountPoint,
      prefix: mountPoint === '/' ? '/' : mountPoint + '/',
      deny: r.policy === 'DENY',
      allowed: new Set((r.allowedPaths ?? []).map(normalisePath)),
      reason: r.reason,
    };
  });
}

export type PathVerdict =
  | { code: 'PATH_INVALID'; normalised: string }
  | { code: 'VIRTUAL_FS_DENIED' | 'VIRTUAL_FS_NOT_IN_ALLOWLIST'; normalised: string; rule: CompiledFsRule };

/** undefined when the path is allowed; otherwise why not. Every rule covering the path must allow it. */
export function checkPath(raw: string, rules: readonly CompiledFsRule[]): PathVerdict | undefined {
  if (CONTROL_CHARS.test(raw)) return { code: 'PATH_INVALID', normalised: raw };
  const normalised = normalisePath(FILE_URL.test(raw) ? fileUrlPath(raw) : raw);
  for (const rule of rules) {
    if (normalised !== rule.mountPoint && !normalised.startsWith(rule.prefix)) continue;
    if (rule.deny) return { code: 'VIRTUAL_FS_DENIED', normalised, rule };
    if (!rule.allowed.has(normalised)) return { code: 'VIRTUAL_FS_NOT_IN_ALLOWLIST', normalised, rule };
  }
  return undefined;
}
