import { stringify } from 'yaml';
import { M87ClientError } from '../client/errors.ts';

/** Exit codes scripts can rely on (documented in docs/cli.md). */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  forbidden: 4,
  conflict: 5,
} as const;

export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

export type OutputFormat = 'table' | 'json' | 'yaml';

export function outputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === 'table' || value === 'wide') return 'table';
  if (value === 'json' || value === 'yaml') return value;
  throw new CliError(`--output must be json, yaml or table, got "${value}"`, EXIT.usage);
}

export function render(data: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? JSON.stringify(data, null, 2) + '\n' : stringify(data);
}

/** A plain, aligned table like kubectl's: upper-case headers, two spaces between columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n') + '\n';
}

/** "3m12s"-style age like kubectl. */
export function age(from: string | Date | undefined, now: Date): string {
  if (from === undefined) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - new Date(from).getTime()) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h` : `${Math.floor(h / 24)}d`;
}

/** Exit code of a typed-client error: scripts rely on these (not found 3, forbidden 4, conflict 5). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (!(err instanceof M87ClientError)) return EXIT.error;
  switch (err.reason) {
    case 'NotFound':
      return EXIT.notFound;
    case 'Forbidden':
    case 'Unauthorized':
      return EXIT.forbidden;
    case 'Conflict':
    case 'AlreadyExists':
      return EXIT.conflict;
    case 'NoCredentials':
    case 'Invalid':
    case 'TooLarge':
    case 'InvalidResponse':
    case 'Expired':
    case 'Unavailable':
      return EXIT.error;
  }
}
