import { tagsOf } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';
import { validateStepArgs } from '../../tool-catalogue/manifest.ts';

/**
 * Effect drift: every step's tool must be in the tool manifest, need only declared effects, support the
 * execution mode, and get valid arguments.
 */
export function effectDriftRule(ctx: RuleContext, out: Findings): void {
  ctx.spec.steps.forEach((step, i) => {
    const tool = ctx.tools[i];
    if (tool === undefined) {
      out.add('TOOL_UNKNOWN', `steps[${i}].tool ${quote(step.tool)} is not in the tool manifest (version ${ctx.manifest.version}).`);
      return;
    }
    const undeclared = tool.effects & ~ctx.effects;
    if (undeclared !== 0) {
      out.add('TOOL_EFFECT_UNDECLARED', `steps[${i}].tool ${step.tool} needs ${tagsOf(undeclared).join(', ')}, which the proposal does not declare.`);
    }
    if (!tool.modes.has(ctx.executionMode)) {
      out.add('TOOL_EXECUTION_MODE_UNSUPPORTED', `steps[${i}].tool ${step.tool} does not support executionMode ${ctx.executionMode} (supports ${tool.spec.executionModes.join(', ')}).`);
    }
    for (const issue of validateStepArgs(tool.spec, step.args)) {
      out.add('TOOL_ARGS_INVALID', `steps[${i}].args.${issue.arg} ${issue.message}.`);
    }
  });
}
