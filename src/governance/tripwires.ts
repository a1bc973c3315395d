import type { GovernancePolicySpec } from '../api/governance-policy.ts';

export interface CompiledTripwires {
  patterns: readonly { name: string; re: RegExp }[];
  /** All patterns as one alternation: one pass answers "anything?" for the common clean case. */
  any: RegExp | undefined;
  scannedTypes: ReadonlySet<string>;
  maxCodeBytes: number;
}

// Backreferences are numbered per pattern; inside one alternation the numbers would shift.
const BACKREFERENCE = /\\[1-9]|\\k</;

export function compileTripwires(t: GovernancePolicySpec['tripwires']): CompiledTripwires {
  const patterns = t.patterns.map((p) => ({ name: p.name, re: new RegExp(p.pattern) }));
  const combinable = patterns.length > 0 && t.patterns.every((p) => !BACKREFERENCE.test(p.pattern));
  return {
    patterns,
    any: combinable ? new RegExp(t.patterns.map((p) => `(?:${p.pattern})`).join('|')) : undefined,
    scannedTypes: new Set(t.scannedTypes),
    maxCodeBytes: t.maxCodeBytes,
  };
}

/** UTF-8 length without encoding when the UTF-16 length already decides it. */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true; // every UTF-16 unit is at least one UTF-8 byte
  if (text.length * 3 <= maxBytes) return false; // every UTF-16 unit is at most three UTF-8 bytes
  return Buffer.byteLength(text, 'utf8') > maxBytes;
}

export type ScanResult = { oversize: true } | { oversize: false; flags: string[] };

/** Scans one code artifact's content: oversize (not scanned) or the names of every pattern that matches. */
export function scanCode(content: string, t: CompiledTripwires): ScanResult {
  if (exceedsBytes(content, t.maxCodeBytes)) return { oversize: true };
  if (t.any !== undefined && !t.any.test(content)) return { oversize: false, flags: [] };
  const flags: string[] = [];
  for (const p of t.patterns) if (p.re.test(content)) flags.push(p.name);
  return { oversize: false, flags };
}
