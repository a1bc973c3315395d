import type { EnvelopeStep } from '../api/envelope.ts';
import type { ToolCatalogue } from './catalogue.ts';
import { toolHash } from './tool-hash.ts';

/**
 * Whether a decided step still matches the tool definition at hand. The controller asks before it mints a
 * Job (the catalogue in its cache now), the runner before it runs a step (the definition it was given): a
 * tool edited or deleted after the decision must not run under the old signature.
 */
export type ToolBindingReason =
  /** The envelope step carries no tool hash or image (minted before tools were bound). */
  | 'ToolUnbound'
  /** No tool of that name any more (deleted from the catalogue). */
  | 'ToolMissing'
  /** The definition hashes differently, or names another image, than the one decided. */
  | 'ToolChanged';

export interface ToolBindingProblem {
  /** Index of the step in envelope.steps. */
  step: number;
  tool: string;
  reason: ToolBindingReason;
  /** Names the field: `steps[i].toolHash` etc. */
  message: string;
}

/** One step against one definition (undefined when there is none). Never throws: an invalid spec is a change. */
export function checkToolBinding(step: EnvelopeStep, index: number, spec: unknown): ToolBindingProblem | undefined {
  const at = `steps[${index}]`;
  if (step.toolHash === undefined || step.image === undefined) {
    return { step: index, tool: step.tool, reason: 'ToolUnbound', message: `${at} (${step.tool}) carries no toolHash/image: it was not decided against a tool definition` };
  }
  if (spec === undefined) return { step: index, tool: step.tool, reason: 'ToolMissing', message: `${at}.tool ${step.tool} is not in the tool catalogue any more` };
  let current: string;
  try {
    current = toolHash(spec);
  } catch (e) {
    return { step: index, tool: step.tool, reason: 'ToolChanged', message: `${at}.tool ${step.tool} is no longer a valid Tool (${(e as Error).message})` };
  }
  if (current !== step.toolHash) {
    return { step: index, tool: step.tool, reason: 'ToolChanged', message: `${at}.toolHash ${step.toolHash.slice(0, 12)}… was decided; tool ${step.tool} now hashes ${current.slice(0, 12)}…` };
  }
  const image = (spec as { image?: unknown }).image;
  if (image !== step.image) {
    return { step: index, tool: step.tool, reason: 'ToolChanged', message: `${at}.image ${step.image} was decided; tool ${step.tool} now runs ${String(image)}` };
  }
  return undefined;
}

/** Every step of an envelope against a catalogue; empty when all still match. */
export function checkToolBindings(steps: readonly EnvelopeStep[], catalogue: ToolCatalogue): ToolBindingProblem[] {
  const problems: ToolBindingProblem[] = [];
  steps.forEach((step, i) => {
    const p = checkToolBinding(step, i, catalogue.get(step.tool));
    if (p !== undefined) problems.push(p);
  });
  return problems;
}
