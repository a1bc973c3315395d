import { CliError, EXIT } from './output.ts';

/** `--listen host:port` of `m87 ui` and `m87 mcp --http` (IPv6 in brackets). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  if (!m || !Number.isInteger(port) || port > 65535) throw new CliError(`--listen must be host:port, got "${value}"`, EXIT.usage);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
