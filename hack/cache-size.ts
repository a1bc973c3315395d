// Where the controller's cache memory goes: heap bytes per cached object, per informer and per field, for
// objects as the API server serves them (a dump of real trees: see --dump). Each template is cloned N times
// through JSON.parse of its text with fresh names, uids and resourceVersions (as a watch delivers it: no
// string shared with another object), put through the informer's transform (CACHE_TRANSFORMS) and frozen,
// and kept in a Map as the informer's store does; the heap growth after a full GC, divided by N, is the
// figure. Per field (--fields): the size of that part of the cached object as a graph of its own (a
// structured clone: strings not shared, so an upper bound).
//
//   bash hack/env.sh node --expose-gc hack/cache-size.ts /tmp/objects.json [--n 2000]
//
// The dump is {proposals, decisions, jobs, pods, networkPolicies: KubeObject[]} as LISTed (with managedFields).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CACHE_TRANSFORMS } from '../src/controller/informers.ts';
import { deepFreeze } from '../src/hash/freeze.ts';
import { objectKey, type KubeObject } from '../src/runtime/resource.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { n: { type: 'string' }, fields: { type: 'boolean' } } });
const N = Number(values.n ?? 2000);
const file = positionals[0];
if (file === undefined) throw new Error('usage: cache-size.ts <dump.json> [--n 2000] [--fields]');
const dump = JSON.parse(readFileSync(file, 'utf8')) as Record<string, KubeObject[]>;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const HEX64 = /\b[0-9a-f]{64}\b/g;
const SIGNATURE = /"([A-Za-z0-9+/]{86}==)"/g;
const TIMESTAMP = /"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"/g;
/** Text that carries the proposal's index in the bench mix (bench/mix.ts): unique per proposal there. */
const PER_PROPOSAL = /(parser-|Bench proposal |bench-)(\d+)/g;

/**
 * The text of clone i of obj, as another tree of the same kind would be: every uuid, hash, signature and
 * the mix's per-proposal text made unique, the name and resourceVersion too, timestamps one second per 20
 * trees (the bench's rate). The same clone index gives the same values in every kind (one tree).
 */
function cloneText(text: string, name: string, i: number): string {
  const suffix = i.toString(16).padStart(6, '0');
  return text
    .replace(UUID, (u) => `${u.slice(0, 30)}${suffix}`)
    .replace(HEX64, (h) => `${h.slice(0, 58)}${suffix}`)
    .replace(SIGNATURE, (_m, sig: string) => `"${sig.slice(0, 80)}${suffix}=="`)
    .replace(TIMESTAMP, (_m, t: string) => `"${new Date(Date.parse(t) + Math.floor(i / 20) * 1000).toISOString().replace('.000', '')}"`)
    .replace(PER_PROPOSAL, (_m, p: string, n: string) => `${p}${n}${i}`)
    .replaceAll(`"${name}"`, `"${name}-${i}"`)
    .replace(/"resourceVersion":"(\d+)"/g, (_m, rv: string) => `"resourceVersion":"${rv}${i}"`);
}

/** Heap bytes per object retained by `make(i)` for i < n (kept in a Map, as the store). */
function perObject(make: (i: number) => unknown, n = N): number {
  const store = new Map<number, unknown>();
  const before = heapUsed();
  for (let i = 0; i < n; i++) store.set(i, make(i));
  const after = heapUsed();
  if (store.size !== n) throw new Error('unreachable');
  return (after - before) / n;
}

const kB = (b: number): string => (b / 1024).toFixed(2);

type Informer = 'proposals' | 'decisions' | 'jobs' | 'pods' | 'networkPolicies';
const kinds: Informer[] = ['proposals', 'decisions', 'jobs', 'pods', 'networkPolicies'];
console.log(`N=${N} clones per template; kB of heap per cached object (mean over the dump's templates)`);
for (const kind of kinds) {
  const templates = dump[kind] ?? [];
  if (templates.length === 0) continue;
  const transform = CACHE_TRANSFORMS[kind];
  let raw = 0;
  let cached = 0;
  let json = 0;
  const fieldSums = new Map<string, number>();
  for (const t of templates) {
    const text = JSON.stringify(t);
    const name = t.metadata.name ?? '';
    const texts = Array.from({ length: N }, (_, i) => cloneText(text, name, i));
    json += Buffer.byteLength(JSON.stringify(transform(JSON.parse(text) as KubeObject)));
    raw += perObject((i) => JSON.parse(texts[i]!) as unknown);
    const objs: KubeObject[] = [];
    cached += perObject((i) => {
      const o = deepFreeze(transform(JSON.parse(texts[i]!) as KubeObject));
      objs.push(o);
      return objectKey(o);
    });
    if (values.fields === true) {
      // A field's size as a graph of its own (structuredClone: no string shared with anything).
      const one = objs[0]! as unknown as Record<string, unknown>;
      for (const top of ['metadata', 'spec', 'status'] as const) {
        const v = one[top];
        if (v === null || typeof v !== 'object' || Array.isArray(v)) continue;
        for (const k of Object.keys(v)) {
          const part = (o: KubeObject): unknown => ((o as unknown as Record<string, Record<string, unknown>>)[top] ?? {})[k];
          if (part(objs[0]!) === null || typeof part(objs[0]!) !== 'object') continue;
          const size = perObject((i) => structuredClone(part(objs[i]!)), Math.min(N, 1000));
          fieldSums.set(`${top}.${k}`, (fieldSums.get(`${top}.${k}`) ?? 0) + size);
        }
      }
    }
  }
  const n = templates.length;
  console.log(`${kind.padEnd(16)} raw ${kB(raw / n).padStart(6)}  cached ${kB(cached / n).padStart(6)}  cached JSON ${kB(json / n).padStart(6)}  (${n} templates)`);
  const fields = [...fieldSums.entries()].map(([p, s]) => [p, s / n] as const).sort((a, b) => b[1] - a[1]);
  for (const [p, s] of fields) if (s > 100) console.log(`    ${p.padEnd(34)} ${kB(s).padStart(6)}`);
}
