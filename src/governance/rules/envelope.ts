import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';
import { writeScopeRank } from '../policy.ts';

/**
 * The requested envelope must lie within the policy bounds and allowlist (checked in resolveEnvelope);
 * the resulting budget must fit the steps, and grant the write scope every tool needs.
 */
export function envelopeRule(ctx: RuleContext, out: Findings): void {
  const env = ctx.envelope;
  for (const issue of env.issues) out.add(issue.code, issue.message);
  const scopeRank = writeScopeRank(env.budget.maxWriteScope);
  const egress = new Set(env.egress.map((e) => `${e.host.toLowerCase()}:${e.port}`));
  ctx.spec.steps.forEach((step, i) => {
    const lookup = ctx.tools[i];
    if (lookup === undefined || !lookup.found) return;
    const tool = lookup.tool;
    if (tool.writeRank > scopeRank) {
      out.add('WRITE_SCOPE_INSUFFICIENT', `steps[${i}].tool ${step.tool} needs write scope ${tool.spec.minWriteScope}; the envelope grants ${env.budget.maxWriteScope}.`);
    }
    const git = tool.spec.workspace.git;
    const repository = git !== undefined && Object.hasOwn(step.args, git.repositoryArg) ? step.args[git.repositoryArg] : undefined;
    if (git !== undefined && typeof repository === 'string' && URL.canParse(repository)) {
      // The runner fetches the repository through its egress gate: its host must be in the allowlist.
      const url = new URL(repository);
      const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
      const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
      if (!egress.has(`${host}:${port}`)) {
        out.add('REPOSITORY_HOST_NOT_IN_EGRESS', `steps[${i}].args.${git.repositoryArg} host ${quote(`${host}:${port}`)} is not in envelope.egress; request it there (the policy must allow it).`);
      }
    }
  });
  const n = ctx.spec.steps.length;
  const { maxSteps, maxToolCalls } = env.budget;
  if (n > maxSteps || n > maxToolCalls) {
    out.add(
      'BUDGET_BELOW_STEP_COUNT',
      `${n} steps do not fit the effective budget (maxSteps ${maxSteps}, maxToolCalls ${maxToolCalls} after the ${ctx.cleanup.cost} cleanup-cost multiplier of ${ctx.cleanup.budgetMultiplierPercent}%).`,
    );
  }
  if (env.clamped.length > 0) out.add('OPEN_WEIGHT_CLAMPED', `Open-weight model: envelope tightened to ${env.clamped.join(', ')}.`);
}
