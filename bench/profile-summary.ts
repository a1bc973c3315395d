/**
 * Where the time goes in a V8 CPU profile (node --cpu-prof; npm run bench -- --profile <dir> writes one
 * per controller process): the top functions by self time and by inclusive time (the function and everything
 * it called), and self time by source file/package.
 *   node bench/profile-summary.ts <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Hotspot {
  name: string;
  /** Self time in milliseconds (in ProfileSummary.inclusive: inclusive time). */
  selfMs: number;
  /** Share of all sampled time (0..1), idle included. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not spent idle (the program, GC, native code). */
  busyMs: number;
  functions: Hotspot[];
  /** By inclusive time: samples with the function anywhere on the stack, each sample counted once. */
  inclusive: Hotspot[];
  files: Hotspot[];
}

/** "src/runtime/status.ts", "node_modules/undici", "node:internal/…", or "(native)" for a frame's url. */
export function sourceGroup(url: string): string {
  if (url === '') return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm?.[1] !== undefined) return `node_modules/${nm[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/([^/]+).*$/, 'node:internal/$1');
  const repo = /\/(src|bench|test|hack)\/(.+)$/.exec(url);
  if (repo) return `${repo[1]}/${repo[2]}`;
  return url.replace(/^file:\/\//, '');
}

function frameName(n: CpuProfileNode): string {
  const f = n.callFrame;
  const fn = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return fn;
  return `${fn} ${sourceGroup(f.url)}:${f.lineNumber + 1}`;
}

export function summarizeProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; attribute it to the sample that follows, as DevTools does.
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i] as number;
    const dt = (deltas[i + 1] ?? 0) / 1000;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, dt));
  }
  let totalMs = 0;
  for (const v of self.values()) totalMs += v;
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let idleMs = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const name = node.callFrame.functionName;
    if (name === '(idle)') {
      idleMs += ms;
      continue;
    }
    const key = frameName(node);
    fns.set(key, (fns.get(key) ?? 0) + ms);
    const group = name === '(garbage collector)' || name === '(program)' ? name : sourceGroup(node.callFrame.url);
    files.set(group, (files.get(group) ?? 0) + ms);
  }
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const [id, ms] of self) {
    if (byId.get(id)?.callFrame.functionName === '(idle)') continue;
    const onStack = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
      const node = byId.get(cur);
      if (!node || node.callFrame.functionName === '(root)') continue;
      const key = frameName(node);
      if (onStack.has(key)) continue; // recursion: once per sample
      onStack.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  const rank = (m: Map<string, number>): Hotspot[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, selfMs]) => ({ name, selfMs, share: totalMs > 0 ? selfMs / totalMs : 0 }));
  return { totalMs, busyMs: totalMs - idleMs, functions: rank(fns), inclusive: rank(inclusive), files: rank(files) };
}

export function renderProfileSummary(s: ProfileSummary): string {
  const pct = (h: Hotspot) => (s.busyMs > 0 ? `${((h.selfMs / s.busyMs) * 100).toFixed(1)}%` : '-');
  const lines = [`sampled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s (shares below are of busy time)`, '', 'self time by source:'];
  for (const h of s.files) lines.push(`  ${pct(h).padStart(6)}  ${h.selfMs.toFixed(0).padStart(7)} ms  ${h.name}`);
  lines.push('', 'top functions by self time:');
  for (const h of s.functions) lines.push(`  ${pct(h).padStart(6)}  ${h.selfMs.toFixed(0).padStart(7)} ms  ${h.name}`);
  lines.push('', 'top functions by inclusive time (with what they called):');
  for (const h of s.inclusive) lines.push(`  ${pct(h).padStart(6)}  ${h.selfMs.toFixed(0).padStart(7)} ms  ${h.name}`);
  return `${lines.join('\n')}\n`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  const file = positionals[0];
  if (file === undefined) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [--top 25]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  process.stdout.write(renderProfileSummary(summarizeProfile(profile, Number(values.top))));
}
