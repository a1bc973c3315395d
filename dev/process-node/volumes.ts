// Volumes as host directories under the Pod's dir. downwardAPI and configMap volumes are root-owned and
// read-only for the Pod's user; emptyDirs belong to it. Unsupported volume types fail the Pod (fail closed).
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, normalize } from 'node:path';
import { FieldRefError, resolveFieldPath } from './downward-api.ts';
import type { PodLayout } from './pod-layout.ts';
import type { KeyToPath, PodLike, Volume } from './pod-types.ts';

export interface ConfigMapLike {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** A configuration problem that fails the Pod (kubelet: CreateContainerConfigError / FailedMount). */
export class PodConfigError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'PodConfigError';
    this.reason = reason;
  }
}

/** Thrown while a referenced object is missing: the node retries, as kubelet does, until the deadline. */
export class NotYetAvailableError extends Error {}

export interface VolumeContext {
  readonly pod: PodLike;
  readonly layout: PodLayout;
  readonly uid: number;
  readonly gid: number;
  readonly podIP: string | undefined;
  /** GET a ConfigMap in the Pod's namespace; undefined when it does not exist. */
  readonly getConfigMap: (name: string) => Promise<ConfigMapLike | undefined>;
}

function safeRelative(path: string, field: string): string {
  const norm = normalize(path);
  if (path === '' || norm.startsWith('/') || norm === '..' || norm.startsWith('../') || norm === '.') {
    throw new PodConfigError('CreateContainerConfigError', `${field}: path ${JSON.stringify(path)} must be relative and stay inside the volume`);
  }
  return norm;
}

function writeReadOnlyFile(dir: string, relPath: string, content: string | Buffer, mode: number): void {
  const file = join(dir, relPath);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, content, { mode: mode & 0o444 });
  chmodSync(file, mode & 0o444); // writeFileSync's mode is masked by the umask
}

function sealReadOnly(dir: string): void {
  chmodSync(dir, 0o555);
}

async function configMapVolume(ctx: VolumeContext, volume: Volume, dir: string, field: string): Promise<void> {
  const source = volume.configMap!;
  const cm = await ctx.getConfigMap(source.name);
  if (cm === undefined) {
    if (source.optional === true) return;
    throw new NotYetAvailableError(`${field}.configMap: ConfigMap ${JSON.stringify(source.name)} not found`);
  }
  const mode = source.defaultMode ?? 0o644;
  const entries = new Map<string, string | Buffer>();
  for (const [k, v] of Object.entries(cm.data ?? {})) entries.set(k, v);
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) entries.set(k, Buffer.from(v, 'base64'));
  const items: KeyToPath[] = source.items ?? [...entries.keys()].map((key) => ({ key, path: key }));
  for (const [i, item] of items.entries()) {
    const content = entries.get(item.key);
    if (content === undefined) {
      if (source.optional === true) continue;
      throw new NotYetAvailableError(`${field}.configMap.items[${i}]: key ${JSON.stringify(item.key)} not in ConfigMap ${source.name}`);
    }
    writeReadOnlyFile(dir, safeRelative(item.path, `${field}.configMap.items[${i}].path`), content, item.mode ?? mode);
  }
}

/** kubelet's AtomicWriter directory name: `..` and the UTC time, then random characters (os.MkdirTemp). */
function timestampDirPrefix(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

/**
 * Writes a volume's files the way kubelet's AtomicWriter does: into a fresh timestamped directory, published
 * through the `..data` symlink, with each top-level entry a symlink through `..data`. An update writes a new
 * directory and swaps `..data` with a rename, so a reader that resolves `..data` once reads one consistent
 * version. (The process node writes a Pod's volumes once; tests use the update to play a changing volume.)
 */
export function writeAtomicVolume(dir: string, files: readonly { path: string; content: string; mode: number }[]): void {
  const dataLink = join(dir, '..data');
  let previous: string | undefined;
  try {
    previous = readlinkSync(dataLink);
  } catch {
    previous = undefined;
  }
  const snapshot = mkdtempSync(join(dir, timestampDirPrefix(new Date())));
  chmodSync(snapshot, 0o755);
  const topLevel = new Set<string>();
  for (const f of files) {
    writeReadOnlyFile(snapshot, f.path, f.content, f.mode);
    topLevel.add(f.path.split('/')[0]!);
  }
  const tmpLink = join(dir, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(basename(snapshot), tmpLink);
  renameSync(tmpLink, dataLink);
  for (const name of topLevel) {
    try {
      symlinkSync(join('..data', name), join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // an update: the link already goes through ..data
    }
  }
  if (previous !== undefined) rmSync(join(dir, previous), { recursive: true, force: true });
}

function downwardApiVolume(ctx: VolumeContext, volume: Volume, dir: string, field: string): void {
  const source = volume.downwardAPI!;
  const files = (source.items ?? []).map((item, i) => {
    const itemField = `${field}.downwardAPI.items[${i}]`;
    if (!item.fieldRef) throw new PodConfigError('CreateContainerConfigError', `${itemField}: only fieldRef items are supported by the process node`);
    // The value exactly as kubelet renders it: raw bytes for a single key, the quoted format for a whole map.
    let content: string;
    try {
      content = resolveFieldPath(ctx.pod, item.fieldRef.fieldPath, ctx.podIP, `${itemField}.fieldRef`);
    } catch (err) {
      if (err instanceof FieldRefError) throw new PodConfigError('CreateContainerConfigError', err.message);
      throw err;
    }
    return { path: safeRelative(item.path, `${itemField}.path`), content, mode: item.mode ?? source.defaultMode ?? 0o644 };
  });
  writeAtomicVolume(dir, files);
}

/** Creates every volume of the Pod; returns volume name → host directory. */
export async function materializeVolumes(ctx: VolumeContext): Promise<Map<string, string>> {
  const hostDirs = new Map<string, string>();
  mkdirSync(dirname(ctx.layout.volume('x')), { recursive: true, mode: 0o711 });
  for (const [i, volume] of (ctx.pod.spec.volumes ?? []).entries()) {
    const field = `spec.volumes[${i}]`;
    const dir = ctx.layout.volume(volume.name);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if (volume.emptyDir !== undefined) {
      chownSync(dir, ctx.uid, ctx.gid);
      chmodSync(dir, 0o770);
    } else if (volume.configMap !== undefined) {
      await configMapVolume(ctx, volume, dir, field);
      sealReadOnly(dir);
    } else if (volume.downwardAPI !== undefined) {
      downwardApiVolume(ctx, volume, dir, field);
      sealReadOnly(dir);
    } else {
      const kind = Object.keys(volume).find((k) => k !== 'name') ?? 'unknown';
      throw new PodConfigError('UnsupportedVolume', `${field} (${volume.name}): volume type ${kind} is not supported by the process node`);
    }
    hostDirs.set(volume.name, dir);
  }
  return hostDirs;
}
