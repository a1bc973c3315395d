import { parseArgs } from 'node:util';
import { imageDigest, isPlaceholderImage } from '../api/image.ts';
import { Tool } from '../api/kinds.ts';
import { toolHash } from '../tool-catalogue/tool-hash.ts';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { EXIT, outputFormat, render, table } from './output.ts';
import { firstIssue } from '../api/issues.ts';

const HELP = `Usage: m87 tools [--kubeconfig FILE] [--context NAME] [-o json|yaml]

Lists the tool catalogue of the cluster (the cluster-scoped Tool objects platform admins own): the effects
each tool has, the least write scope it needs, whether it needs the network, how it sees the workspace, its
image digest and its tool hash (what a Decision binds). -o json|yaml prints every tool in full.
A Tool the controller would refuse is listed as INVALID with the field at fault.
`;

/** One catalogue entry as listed: its hash when valid, the reason when not. */
export interface ListedTool {
  name: string;
  valid: boolean;
  /** toolHash(spec) for a valid tool. */
  hash?: string;
  /** Why the tool is not usable (the field at fault). */
  problem?: string;
  spec: unknown;
}

/** Validates each listed object on its own, so one bad Tool is shown as such instead of hiding the rest. */
export function listedTools(items: readonly unknown[]): ListedTool[] {
  return items
    .map((item): ListedTool => {
      const rawName = (item as { metadata?: { name?: unknown } } | null)?.metadata?.name;
      const name = typeof rawName === 'string' ? rawName : '';
      const parsed = Tool.safeParse(item);
      if (!parsed.success) {
        return { name, valid: false, problem: firstIssue(parsed.error), spec: (item as { spec?: unknown } | null)?.spec };
      }
      return { name, valid: true, hash: toolHash(parsed.data.spec), spec: parsed.data.spec };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

function shortImage(image: string): string {
  if (isPlaceholderImage(image)) return 'placeholder (not built yet)';
  return imageDigest(image).slice(0, 'sha256:'.length + 12);
}

export async function runTools(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { kubeconfig: CONNECTION_FLAGS.kubeconfig, context: CONNECTION_FLAGS.context, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const format = outputFormat(values.output);
  const conn = connect(values);
  const tools = listedTools((await conn.client.listRaw('Tool')).items);
  if (format !== 'table') {
    process.stdout.write(render(tools, format));
    return EXIT.ok;
  }
  if (tools.length === 0) {
    process.stdout.write('No tools in the catalogue: every step will be denied (TOOL_UNKNOWN). Install the chart’s tools or create Tool objects.\n');
    return EXIT.ok;
  }
  const rows = tools.map((t) => {
    if (!t.valid) return [t.name, 'INVALID', '', '', '', t.problem ?? '', ''];
    const spec = Tool.shape.spec.parse(t.spec);
    return [t.name, spec.effects.join(','), spec.minWriteScope, spec.network ? 'yes' : 'no', spec.workspace.access, shortImage(spec.image), (t.hash ?? '').slice(0, 12)];
  });
  process.stdout.write(table(['name', 'effects', 'write scope', 'network', 'workspace', 'image digest', 'tool hash'], rows));
  return EXIT.ok;
}
