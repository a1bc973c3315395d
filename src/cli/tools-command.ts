import { parseArgs } from 'node:util';
import { imageDigest, isPlaceholderImage } from '../api/image.ts';
import { Tool } from '../api/kinds.ts';
import { connect, CONNECTION_FLAGS } from './kube-context.ts';
import { EXIT, outputFormat, render, table } from './output.ts';
import { listTools } from '../client/tools.ts';

const HELP = `Usage: m87 tools [--kubeconfig FILE] [--context NAME] [-o json|yaml]

Lists the tool catalogue of the cluster (the cluster-scoped Tool objects platform admins own): the effects
each tool has, the least write scope it needs, whether it needs the network, how it sees the workspace, its
image digest and its tool hash (what a Decision binds). -o json|yaml prints every tool in full.
A Tool the controller would refuse is listed as INVALID with the field at fault.
`;

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
  const tools = await listTools(conn.client);
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
