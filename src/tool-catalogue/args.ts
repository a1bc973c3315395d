import { findTool, TOOL_MANIFEST, type ToolManifest, type ToolSpec } from './manifest.ts';

/** One problem with a step's arguments; `arg` names the argument. */
export interface ArgIssue {
  arg: string;
  message: string;
}

function validUrl(value: string): string | undefined {
  if (!URL.canParse(value)) return 'is not a URL';
  const url = new URL(value);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be an http or https URL, not ${url.protocol}`;
  // Credentials in a URL would end up in logs, receipts and the hashed envelope.
  if (url.username !== '' || url.password !== '') return 'must not carry credentials';
  return undefined;
}

/**
 * Checks step arguments against the tool's argument schema (a tool, or a tool name looked up in the
 * manifest). Returns every issue (empty when valid): an unknown tool (arg ''), unknown arguments, missing
 * or empty required ones, values that are not strings, too long, outside the enum, or not the format.
 */
export function validateStepArgs(
  toolOrName: ToolSpec | string,
  args: Readonly<Record<string, unknown>> | undefined,
  manifest: ToolManifest = TOOL_MANIFEST,
): ArgIssue[] {
  const tool = typeof toolOrName === 'string' ? findTool(toolOrName, manifest) : toolOrName;
  if (tool === undefined) return [{ arg: '', message: `tool ${typeof toolOrName === 'string' ? toolOrName : toolOrName.name} is not in the tool manifest` }];
  const issues: ArgIssue[] = [];
  const given = args ?? {};
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(tool.args, name)) issues.push({ arg: name, message: `is not an argument of tool ${tool.name}` });
  }
  for (const [name, spec] of Object.entries(tool.args)) {
    const value = Object.hasOwn(given, name) ? given[name] : undefined;
    if (value === undefined || value === '') {
      if (spec.required) issues.push({ arg: name, message: 'is required' });
      continue;
    }
    if (typeof value !== 'string') {
      issues.push({ arg: name, message: 'must be a string' });
      continue;
    }
    if (value.length > spec.maxLength) issues.push({ arg: name, message: `is longer than ${spec.maxLength} characters` });
    if (spec.enum !== undefined && !spec.enum.includes(value)) issues.push({ arg: name, message: `must be one of ${spec.enum.join(', ')}` });
    if (spec.format === 'url') {
      const problem = validUrl(value);
      if (problem !== undefined) issues.push({ arg: name, message: problem });
    }
  }
  return issues;
}
