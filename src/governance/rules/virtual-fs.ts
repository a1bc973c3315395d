import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';
import { patchPaths, workspacePathProblem } from '../../tool-catalogue/render-argv.ts';
import { checkPath } from '../paths.ts';

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
    const lookup = ctx.tools[i];
    const tool = lookup?.found === true ? lookup.tool : undefined;
    const names = tool === undefined ? Object.keys(step.args) : tool.pathArgs;
    for (const name of names) {
      const value = Object.hasOwn(step.args, name) ? step.args[name] : undefined;
      if (typeof value === 'string') check(ctx, out, `steps[${i}].args.${name}`, value);
    }
    for (const name of tool?.patchArgs ?? []) {
      const value = Object.hasOwn(step.args, name) ? step.args[name] : undefined;
      if (typeof value === 'string') for (const p of patchPaths(value)) check(ctx, out, `steps[${i}].args.${name} (a file the patch touches)`, p);
    }
  });
}

/**
 * The path arguments of known tools are resolved by the runner inside its workspace, and a patch is applied
 * there; one that escapes it (a `..` segment, or an absolute path outside /workspace) would be refused at
 * run time, so it is denied here, before anyone is asked to approve it.
 */
function workspaceRule(ctx: RuleContext, out: Findings): void {
  ctx.spec.steps.forEach((step, i) => {
    const lookup = ctx.tools[i];
    if (lookup === undefined || !lookup.found) return;
    const valueOf = (name: string) => (Object.hasOwn(step.args, name) ? step.args[name] : undefined);
    for (const name of lookup.tool.pathArgs) {
      const value = valueOf(name);
      if (typeof value !== 'string' || value === '') continue;
      const problem = workspacePathProblem(value);
      if (problem !== undefined) out.add('PATH_OUTSIDE_WORKSPACE', `steps[${i}].args.${name} ${quote(value)} ${problem}: it must stay inside the job workspace.`);
    }
    for (const name of lookup.tool.patchArgs) {
      const value = valueOf(name);
      if (typeof value !== 'string') continue;
      for (const p of patchPaths(value)) {
        const problem = workspacePathProblem(p);
        if (problem !== undefined) out.add('PATH_OUTSIDE_WORKSPACE', `steps[${i}].args.${name} touches ${quote(p)}, which ${problem}: a patch must stay inside the job workspace.`);
      }
    }
  });
}
