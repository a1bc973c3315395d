import { renderArgv } from '../../tool-catalogue/render-argv.ts';
import { tagsOf } from '../effect-set.ts';
import type { RuleContext } from '../context.ts';
import { quote, type Findings } from '../findings.ts';

/**
 * Effect drift: every step's tool must be a valid tool of the catalogue, need only declared effects,
 * support the execution mode, and get arguments that render into its argv (typed, bounded, no option
 * injection, no control characters). Workspace escapes of path and patch arguments are the virtual-fs
 * rule's finding (PATH_OUTSIDE_WORKSPACE), so they are not reported twice.
 */
export function effectDriftRule(ctx: RuleContext, out: Findings): void {
  ctx.spec.steps.forEach((step, i) => {
    const lookup = ctx.tools[i];
    if (lookup === undefined || !lookup.found) {
      if (lookup?.problem === 'invalid') {
        out.add('TOOL_INVALID', `steps[${i}].tool ${quote(step.tool)} is not a valid Tool (${lookup.message}); fix the Tool object.`);
      } else {
        out.add('TOOL_UNKNOWN', `steps[${i}].tool ${quote(step.tool)} is not in the tool catalogue (kubectl m87 tools lists it).`);
      }
      return;
    }
    const tool = lookup.tool;
    const undeclared = tool.effects & ~ctx.effects;
    if (undeclared !== 0) {
      out.add('TOOL_EFFECT_UNDECLARED', `steps[${i}].tool ${step.tool} needs ${tagsOf(undeclared).join(', ')}, which the proposal does not declare.`);
    }
    if (!tool.modes.has(ctx.executionMode)) {
      out.add('TOOL_EXECUTION_MODE_UNSUPPORTED', `steps[${i}].tool ${step.tool} does not support executionMode ${ctx.executionMode} (supports ${tool.spec.executionModes.join(', ')}).`);
    }
    const rendered = renderArgv(tool.spec, step.args);
    if (rendered.ok) return;
    for (const issue of rendered.issues) {
      if (issue.code === 'ARG_PATH_ESCAPES_WORKSPACE') continue;
      const where = issue.arg === '' ? `steps[${i}].args` : `steps[${i}].args.${issue.arg}`;
      out.add('TOOL_ARGS_INVALID', `${where} ${issue.message} (${issue.code}).`);
    }
  });
}
