// Volumes as host directories under the Pod's dir. downwardAPI and configMap volumes are root-owned and
// read-only for the Pod's user; emptyDirs belong to it. Unsupported volume types fail the Pod (fail closed).
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { formatMap, resolveFieldPath } from './downward-api.ts';
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

function downwardApiVolume(ctx: VolumeContext, volume: Volume, dir: string, field: string): void {
  const source = volume.downwardAPI!;
  for (const [i, item] of (source.items ?? []).entries()) {
    const itemField = `${field}.downwardAPI.items[${i}]`;
    if (!item.fieldRef) throw new PodConfigError('CreateContainerConfigError', `${itemField}: only fieldRef items are supported by the process node`);
    const path = item.fieldRef.fieldPath;
    const content =
      path === 'metadata.annotations'
        ? formatMap(ctx.pod.metadata.annotations)
        : path === 'metadata.labels'
          ? formatMap(ctx.pod.metadata.labels)
          : resolveFieldPath(ctx.pod, path, ctx.podIP, `${itemField}.fieldRef`);
    writeReadOnlyFile(dir, safeRelative(item.path, `${itemField}.path`), content, item.mode ?? source.defaultMode ?? 0o644);
  }
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
