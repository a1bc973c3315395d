import { parseArgs } from 'node:util';
import { TOOL_MANIFEST, toolManifestHash } from '../tool-catalogue/manifest.ts';
import { EXIT, outputFormat, render, table } from './output.ts';

const HELP = `Usage: m87 tools [-o json|yaml]

Lists the runner's tool catalogue (the tool manifest shared by the engine and the runner): the effects each
tool needs, its minimum write scope, execution modes, arguments, timeout and whether it uses the network.
`;

export function runTools(argv: string[]): Promise<number> {
  return Promise.resolve(toolsCommand(argv));
}

function toolsCommand(argv: string[]): number {
  const { values } = parseArgs({ args: argv, options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  const format = outputFormat(values.output);
  if (format !== 'table') {
    process.stdout.write(render({ hash: toolManifestHash(), manifest: TOOL_MANIFEST }, format));
    return EXIT.ok;
  }
  const rows = TOOL_MANIFEST.tools.map((t) => [
    t.name,
    t.effects.join(','),
    t.minWriteScope,
    t.executionModes.join(','),
    Object.entries(t.args)
      .map(([name, a]) => `${name}${a.required ? '' : '?'}`)
      .join(','),
    `${t.timeoutSeconds}s`,
    t.network ? 'yes' : 'no',
  ]);
  process.stdout.write(`Tool manifest ${TOOL_MANIFEST.version}, hash ${toolManifestHash()}\n\n`);
  process.stdout.write(table(['tool', 'effects', 'write scope', 'modes', 'args', 'timeout', 'network'], rows));
  return EXIT.ok;
}
