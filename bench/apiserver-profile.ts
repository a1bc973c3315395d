// A Go CPU profile of kube-apiserver during a phase's load (--apiserver-profile DIR): the bench plane then
// runs the API server with --profiling=true (the plane's default is false) and the bench fetches
// /debug/pprof/profile?seconds=N over loopback with the plane's admin token (system:masters may GET the
// non-resource URL). `go tool pprof -top` summarises it: the top functions by self time, and self time by
// package (which part of the API server, etcd client, TLS, JSON, GC... the CPU goes to).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';

const execFileAsync = promisify(execFile);

export const APISERVER_PROFILING_FLAGS = ['--profiling=true'];

/** GETs the API server's CPU profile for `seconds` s (blocks that long) and writes it to `file`. */
export async function fetchApiserverProfile(admin: KubeConfig, caPem: string, seconds: number, file: string): Promise<void> {
  const server = new URL(admin.getCurrentCluster()?.server ?? '');
  const token = admin.getCurrentUser()?.token;
  if (token === undefined) throw new Error('the admin kubeconfig has no token');
  if (server.hostname !== '127.0.0.1' && server.hostname !== '[::1]' && server.hostname !== 'localhost') throw new Error(`not a loopback API server: ${server.hostname}`);
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = request(
      { host: server.hostname, port: server.port, path: `/debug/pprof/profile?seconds=${seconds}`, method: 'GET', ca: caPem, headers: { Authorization: `Bearer ${token}` }, timeout: (seconds + 60) * 1000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          if (res.statusCode !== 200) reject(new Error(`GET /debug/pprof/profile: HTTP ${res.statusCode ?? '?'}: ${b.toString('utf8').slice(0, 200)}`));
          else resolve(b);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('profile request timed out')));
    req.on('error', reject);
    req.end();
  });
  writeFileSync(file, body);
}

export interface TopRow {
  flatPercent: number;
  cumPercent: number;
  name: string;
}

export interface PprofSummary {
  /** "Duration: 30s, Total samples = 41.2s (137%)" as pprof prints it. */
  header: string;
  /** Top functions by self (flat) time. */
  functions: TopRow[];
  /** Self time by package, percent of all samples, largest first. */
  packages: { name: string; flatPercent: number }[];
  /** What the API server does, by cumulative time of the functions that do it (CATEGORIES); overlapping. */
  categories: { name: string; cumPercent: number }[];
}

/**
 * Where an API server's CPU goes, by the cumulative share of the functions that do each thing (a row's share
 * includes everything it calls, so rows overlap: "update / patch" contains its share of "CRD validation").
 * Several functions of a row are summed (they do not call each other).
 */
export const CATEGORIES: readonly { name: string; match: RegExp }[] = [
  { name: 'API request handlers (all)', match: /handlers\/finisher\.finishRequest\.func1$/ },
  { name: 'create', match: /registry\/generic\/registry\.\(\*Store\)\.Create$/ },
  { name: 'update / patch (incl. status)', match: /registry\/generic\/registry\.\(\*Store\)\.Update$/ },
  { name: 'delete', match: /registry\/generic\/registry\.\(\*Store\)\.Delete$/ },
  { name: 'get / list', match: /registry\/generic\/registry\.\(\*Store\)\.(Get|List)$/ },
  { name: 'CRD validation (OpenAPI schema, CEL rules)', match: /customresource\.(customResourceStrategy\.Validate|customResourceStrategy\.ValidateUpdate|statusStrategy\.ValidateUpdate)$/ },
  { name: 'CEL evaluation', match: /cel-go\/cel\.\(\*prog\)\.ContextEval$/ },
  { name: 'managed fields', match: /fieldmanager\.\(\*FieldManager\)\.(UpdateNoErrors|Update|Apply)$/ },
  { name: 'admission', match: /pkg\/admission\.\(\*auditHandler\)\.(Admit|Validate)$/ },
  { name: 'etcd client (gRPC calls)', match: /google\.golang\.org\/grpc\.\(\*ClientConn\)\.Invoke$/ },
  { name: 'watch: decoding etcd events', match: /storage\/etcd3\.\(\*watchChan\)\.transform$/ },
  { name: 'watch: serving watchers', match: /cacher\.\(\*cacheWatcher\)\.processInterval$/ },
  { name: 'JSON encoding', match: /^encoding\/json\.\(\*encodeState\)\.marshal$/ },
  { name: 'JSON decoding', match: /^(encoding\/json\.Unmarshal|sigs\.k8s\.io\/json\.UnmarshalCaseSensitivePreserveInts)$/ },
  { name: 'TLS record write / read', match: /^crypto\/tls\.\(\*Conn\)\.(Write|Read)$/ },
  { name: 'audit log (the plane writes one)', match: /audit\/log\.\(\*backend\)\.ProcessEvents$|audit\/buffered\.\(\*bufferedBackend\)\.processEvents$/ },
  { name: 'garbage collection (background mark)', match: /^runtime\.gcBgMarkWorker$/ },
  { name: 'allocation (mallocgc)', match: /^runtime\.mallocgc$/ },
];

/** Cumulative share per CATEGORIES row from `pprof -top -cum` rows (rows that match nothing are left out). Pure. */
export function categorize(cumRows: readonly TopRow[]): { name: string; cumPercent: number }[] {
  const out: { name: string; cumPercent: number }[] = [];
  for (const c of CATEGORIES) {
    const rows = cumRows.filter((r) => c.match.test(r.name.replace(/ \(inline\)$/, '')));
    if (rows.length > 0) out.push({ name: c.name, cumPercent: Math.round(rows.reduce((sum, r) => sum + r.cumPercent, 0) * 100) / 100 });
  }
  return out;
}

/** The package of a Go symbol: `k8s.io/apiserver/pkg/storage/cacher.(*Cacher).Watch` → `k8s.io/apiserver/pkg/storage/cacher`. Pure. */
export function goPackage(symbol: string): string {
  symbol = symbol.replace(/\[.*\]/g, '').replace(/ \(inline\)$/, '');
  const slash = symbol.lastIndexOf('/');
  const dot = symbol.indexOf('.', slash + 1);
  return dot < 0 ? symbol : symbol.slice(0, dot);
}

/** Parses `go tool pprof -top` text (rows: flat flat% sum% cum cum% name). Pure. */
export function parsePprofTop(text: string, topFunctions = 25): PprofSummary {
  const lines = text.split('\n');
  const header = lines.filter((l) => /^(Duration|Showing nodes)/.test(l.trim())).join('; ');
  const rows: TopRow[] = [];
  for (const line of lines) {
    const m = /^\s*[0-9.]+[a-zµ]*s?\s+([0-9.]+)%\s+[0-9.]+%\s+[0-9.]+[a-zµ]*s?\s+([0-9.]+)%\s+(.+)$/.exec(line);
    if (m) rows.push({ flatPercent: Number(m[1]), cumPercent: Number(m[2]), name: m[3]!.trim() });
  }
  const byPackage = new Map<string, number>();
  for (const r of rows) byPackage.set(goPackage(r.name), (byPackage.get(goPackage(r.name)) ?? 0) + r.flatPercent);
  const packages = [...byPackage.entries()].map(([name, flatPercent]) => ({ name, flatPercent: Math.round(flatPercent * 100) / 100 })).sort((a, b) => b.flatPercent - a.flatPercent);
  return { header, functions: rows.slice(0, topFunctions), packages, categories: [] };
}

/** Runs `go tool pprof -top` on a profile (every node, so the package sums cover all samples), and `-top -cum` for the categories. */
export async function summarizeProfile(file: string): Promise<PprofSummary> {
  const pprof = async (extra: string[]) =>
    (await execFileAsync('go', ['tool', 'pprof', '-top', '-nodefraction=0', '-edgefraction=0', '-nodecount=100000', ...extra, file], { maxBuffer: 256 * 1024 * 1024 })).stdout;
  const flat = parsePprofTop(await pprof([]));
  const cum = parsePprofTop(await pprof(['-cum']), Number.MAX_SAFE_INTEGER);
  return { ...flat, categories: categorize(cum.functions) };
}

export function renderPprofSummary(label: string, s: PprofSummary, rows = 15): string[] {
  return [
    `kube-apiserver CPU profile, ${label} (${s.header})`,
    '  by package (self time, % of samples): ' +
      s.packages
        .slice(0, rows)
        .map((p) => `${p.name} ${p.flatPercent.toFixed(1)}`)
        .join(', '),
    '  what it does (cumulative % of samples; rows overlap): ' + s.categories.map((c) => `${c.name} ${c.cumPercent.toFixed(1)}`).join(', '),
    '  top functions (self %, cumulative %):',
    ...s.functions.slice(0, rows).map((f) => `    ${f.flatPercent.toFixed(1).padStart(5)} ${f.cumPercent.toFixed(1).padStart(5)}  ${f.name}`),
  ];
}
