import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { envelopeHash, proposalHash } from '../integrity/document-hashes.ts';
import { CliError, EXIT, outputFormat, render, table } from './output.ts';

const HELP = `Usage: m87 hash -f <file> [-o json|yaml]

Prints the proposal hash (SHA-256 of the RFC 8785 form of spec) of every Proposal in the file, and the
deployment envelope hash (DEH) of every Job or Decision with an envelope. Use - for standard input.
`;

export function runHash(argv: string[]): Promise<number> {
  return Promise.resolve(hashCommand(argv));
}

function hashCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { filename: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.ok;
  }
  if (!values.filename) throw new CliError('-f <file> is required (use - for standard input)', EXIT.usage);
  const format = outputFormat(values.output);
  const text = readFileSync(values.filename === '-' ? 0 : values.filename, 'utf8');
  const rows: { kind: string; name: string; hash: string; of: string }[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) throw new CliError(`document ${i + 1}: ${doc.errors[0]?.message ?? 'invalid YAML'}`, EXIT.error);
    const obj = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: Record<string, unknown> } | null;
    if (!obj) continue;
    const name = obj.metadata?.name ?? `<document ${i + 1}>`;
    const where = `document ${i + 1} (${obj.kind ?? 'no kind'} ${name})`;
    try {
      if (obj.kind === 'Proposal') rows.push({ kind: obj.kind, name, of: 'spec', hash: proposalHash(obj.spec) });
      else if (obj.kind === 'Job') rows.push({ kind: obj.kind, name, of: 'spec.envelope', hash: envelopeHash(obj.spec?.envelope) });
      else if (obj.kind === 'Decision' && obj.spec?.effectiveEnvelope !== undefined) {
        rows.push({ kind: obj.kind, name, of: 'spec.effectiveEnvelope', hash: envelopeHash(obj.spec.effectiveEnvelope) });
      }
    } catch (err) {
      throw new CliError(`${where}: ${(err as Error).message}`, EXIT.error);
    }
  }
  if (rows.length === 0) throw new CliError('no Proposal, Job or Decision with an envelope found in the input', EXIT.error);
  process.stdout.write(format === 'table' ? table(['kind', 'name', 'of', 'hash'], rows.map((r) => [r.kind, r.name, r.of, r.hash])) : render(rows, format));
  return EXIT.ok;
}
