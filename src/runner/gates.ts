import { READ_ONLY_EFFECTS } from '../api/effects.ts';
import type { AutonomyBudget, EffectiveEnvelope } from '../api/envelope.ts';
import { findTool, validateStepArgs, type ToolManifest, type ToolSpec } from '../tool-catalogue/manifest.ts';
import { stop } from './codes.ts';
import { writeScopeAllows } from './budget.ts';
import { TOOL_IMPLEMENTATIONS, type ToolImplementation } from './builtin-tools/index.ts';
import type { Workspace } from './workspace.ts';

/**
 * The reversibility gate (seed §9.1 with its gaps closed): no class is acceptable only when every allowed
 * effect is read-only; REVERSIBLE needs a rollback proof; PARTIALLY_REVERSIBLE needs one to commit;
 * IRREVERSIBLE needs a human approval (the boolean true, nothing "truthy").
 */
export function checkReversibility(envelope: EffectiveEnvelope): void {
  const r = envelope.reversibility;
  switch (r.class) {
    case undefined:
      if (!envelope.effects.every((e) => READ_ONLY_EFFECTS.has(e))) {
        stop('REVERSIBILITY_CLASS_MISSING', 'envelope.reversibility.class is missing but the job has effects that are not read-only');
      }
      return;
    case 'REVERSIBLE':
      if (r.hasRollbackProof !== true) stop('ROLLBACK_PROOF_MISSING', 'envelope.reversibility: REVERSIBLE needs a rollback proof');
      return;
    case 'PARTIALLY_REVERSIBLE':
      if (r.executionMode === 'commit' && r.hasRollbackProof !== true) {
        stop('ROLLBACK_PROOF_MISSING', 'envelope.reversibility: PARTIALLY_REVERSIBLE in commit mode needs a rollback proof');
      }
      return;
    case 'IRREVERSIBLE':
      if (envelope.humanApproved !== true) stop('HUMAN_APPROVAL_MISSING', 'envelope.humanApproved: IRREVERSIBLE work needs a human approval');
      return;
    default:
      stop('REVERSIBILITY_CLASS_MISSING', 'envelope.reversibility.class is not a known class');
  }
}

export interface PlannedStep {
  index: number;
  spec: ToolSpec;
  implementation: ToolImplementation;
  args: Readonly<Record<string, string>>;
  /** Names of the manifest's pathLike arguments, re-validated right before the step runs. */
  pathArgs: readonly string[];
}

function egressAllows(envelope: EffectiveEnvelope, url: URL): boolean {
  const host = (url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname).toLowerCase();
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return envelope.egress.some((r) => r.host.toLowerCase() === host && r.port === port);
}

/**
 * Static gates for one step, in order: tool in the runner's manifest, implemented, arguments valid against
 * the manifest schema, the tool's effects allowed by the envelope, write scope, execution mode, path-like
 * arguments inside the workspace (lexically and on disk), URL arguments in the egress allowlist.
 */
export function planStep(
  envelope: EffectiveEnvelope,
  budget: AutonomyBudget,
  index: number,
  workspace: Workspace,
  manifest?: ToolManifest,
): PlannedStep {
  const step = envelope.steps[index]!;
  const where = `steps[${index}]`;
  const spec = findTool(step.tool, manifest);
  if (spec === undefined) stop('TOOL_NOT_IN_MANIFEST', `${where}.tool: ${step.tool} is not in the runner's tool manifest`);
  const implementation = TOOL_IMPLEMENTATIONS.get(spec.name);
  if (implementation === undefined) stop('TOOL_NOT_IMPLEMENTED', `${where}.tool: ${step.tool} has no implementation in this runner`);
  const args = step.args ?? {};
  const issues = validateStepArgs(spec, args);
  if (issues.length > 0) stop('TOOL_ARGS_INVALID', `${where}.args.${issues[0]!.arg}: ${issues[0]!.message}`);
  const missing = spec.effects.filter((e) => !envelope.effects.includes(e));
  if (missing.length > 0) stop('TOOL_EFFECT_NOT_ALLOWED', `${where}: tool ${spec.name} needs effects ${missing.join(', ')} that the envelope does not allow`);
  if (!writeScopeAllows(budget.maxWriteScope, spec.minWriteScope)) {
    stop('WRITE_SCOPE_EXCEEDED', `${where}: tool ${spec.name} needs write scope ${spec.minWriteScope} but the envelope allows ${budget.maxWriteScope}`);
  }
  const mode = envelope.reversibility.executionMode;
  if (!spec.executionModes.includes(mode)) {
    stop('EXECUTION_MODE_UNSUPPORTED', `${where}: tool ${spec.name} supports ${spec.executionModes.join(', ')}, not ${mode}`);
  }
  const pathArgs: string[] = [];
  for (const [name, argSpec] of Object.entries(spec.args)) {
    const value = args[name];
    if (value === undefined || value === '') continue;
    if (argSpec.pathLike === true) {
      workspace.resolve(value, `${where}.args.${name}`);
      pathArgs.push(name);
    }
    if (argSpec.format === 'url' && !egressAllows(envelope, new URL(value))) {
      stop('EGRESS_HOST_NOT_ALLOWED', `${where}.args.${name}: ${new URL(value).host} is not in the envelope's egress allowlist`);
    }
  }
  return { index, spec, implementation, args, pathArgs };
}
