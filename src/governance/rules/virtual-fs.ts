import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';
import { checkPath, normalisePath, WORKSPACE } from '../paths.ts';

const ARTIFACT_PATH_FIELDS = ['path', 'source', 'destination', 'target'] as const;

function check(ctx: RuleContext, out: Findings, where: string, value: string | undefined): void {
  if (value === undefined || value === '') return;
  const v = checkPath(value, ctx.policy.fsRules);
  if (v === undefined) return;
  if (v.code === 'PATH_INVALID') {
    out.add('PATH_INVALID', `${where} ${quote(value)} contains control characters.`);
  } else if (v.code === 'VIRTUAL_FS_DENIED') {
    out.add('VIRTUAL_FS_DENIED', `${where} ${quote(value)} resolves to ${quote(v.normalised)} under ${v.rule.mountPoint}: ${v.rule.reason}`);
  } else {
    out.add('VIRTUAL_FS_NOT_IN_ALLOWLIST', `${where} ${quote(value)} resolves to ${quote(v.normalised)}, which is not in the ${v.rule.mountPoint} allowlist: ${v.rule.reason}`);
  }
}

/**
 * Virtual-filesystem rules on every artifact path field and every path-like step argument, after lexical
 * normalisation. Arguments of a tool the manifest does not know are all treated as path-like.
 */
export function virtualFsRule(ctx: RuleContext, out: Findings): void {
  workspaceRule(ctx, out);
  if (ctx.policy.fsRules.length === 0) return;
  ctx.spec.artifacts.forEach((a, i) => {
    for (const field of ARTIFACT_PATH_FIELDS) check(ctx, out, `artifacts[${i}].${field}`, a[field]);
  });
  ctx.spec.steps.forEach((step, i) => {
    const tool = ctx.tools[i];
    const names = tool === undefined ? Object.keys(step.args) : tool.pathArgs;
    for (const name of names) {
      const value = Object.hasOwn(step.args, name) ? step.args[name] : undefined;
      if (typeof value === 'string') check(ctx, out, `steps[${i}].args.${name}`, value);
    }
  });
}

/**
 * The path arguments of known tools are resolved by the runner inside its workspace; one that resolves
 * elsewhere (`../..` climbing out, or an absolute path outside /workspace) would be refused at run time,
 * so it is denied here, before anyone is asked to approve it.
 */
function workspaceRule(ctx: RuleContext, out: Findings): void {
  ctx.spec.steps.forEach((step, i) => {
    const tool = ctx.tools[i];
    if (tool === undefined) return;
    for (const name of tool.pathArgs) {
      const value = Object.hasOwn(step.args, name) ? step.args[name] : undefined;
      if (typeof value !== 'string' || value === '') continue;
      const normalised = normalisePath(value);
      if (normalised === WORKSPACE || normalised.startsWith(`${WORKSPACE}/`)) continue;
      out.add('PATH_OUTSIDE_WORKSPACE', `steps[${i}].args.${name} ${quote(value)} resolves to ${quote(normalised)}, outside the job workspace ${WORKSPACE}.`);
    }
  });
}
