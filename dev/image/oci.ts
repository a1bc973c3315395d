// An OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md) written
// directly: gzip layers from tar entries, the image config, the manifest and index.json. Every byte is a
// function of the inputs (fixed timestamps, sorted entries, JSON in a fixed key order), so the same inputs
// give the same digests on every build.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { tarStream, type TarEntry } from './tar.ts';

export const MEDIA_TYPE_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** The image's `created` (and every history entry's): fixed, so the config does not depend on the build time. */
export const IMAGE_CREATED = '1970-01-01T00:00:00Z';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
  readonly platform?: { readonly architecture: string; readonly os: string };
}

export interface Layer {
  /** The compressed blob. */
  readonly digest: string;
  readonly size: number;
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids). */
  readonly diffId: string;
  /** What the layer holds, for the config's history. */
  readonly createdBy: string;
}

export function blobPath(layout: string, digest: string): string {
  const [algorithm, hex] = digest.split(':');
  if (algorithm !== 'sha256' || hex === undefined || !/^[a-f0-9]{64}$/.test(hex)) throw new Error(`not a sha256 digest: ${digest}`);
  return join(layout, 'blobs', 'sha256', hex);
}

export function initLayout(layout: string): void {
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}

function hashing(hash: ReturnType<typeof createHash>, count?: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      if (count) count.bytes += chunk.length;
      done(null, chunk);
    },
  });
}

/** Writes the gzip layer of `entries` into the layout's blobs. */
export async function writeLayer(layout: string, entries: Iterable<TarEntry>, createdBy: string): Promise<Layer> {
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  const written = { bytes: 0 };
  const temporary = join(layout, 'blobs', 'sha256', `.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    // zlib's default level: level 9 makes the Node binary's layer 0.2 % smaller and takes three times as long.
    await pipeline(tarStream(entries), hashing(diff), createGzip({ level: 6 }), hashing(blob, written), createWriteStream(temporary));
    const digest = `sha256:${blob.digest('hex')}`;
    renameSync(temporary, blobPath(layout, digest));
    return { digest, size: written.bytes, diffId: `sha256:${diff.digest('hex')}`, createdBy };
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Writes bytes as a blob and returns its descriptor. */
export function writeBlob(layout: string, mediaType: string, bytes: Buffer): Descriptor {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const path = blobPath(layout, digest);
  if (!existsSync(path)) writeFileSync(path, bytes);
  return { mediaType, digest, size: bytes.length };
}

export interface ImageConfig {
  readonly user: string;
  readonly env: Readonly<Record<string, string>>;
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly workingDir: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface WrittenImage {
  /** The manifest's digest: the image digest (`repository@<digest>` names exactly this image). */
  readonly digest: string;
  readonly manifest: Descriptor;
  readonly config: Descriptor;
  readonly layers: readonly Layer[];
  /** Compressed size: manifest + config + layers. */
  readonly size: number;
}

/** Writes config and manifest for `layers` and makes index.json name the image `refName`. */
export function writeImage(layout: string, layers: readonly Layer[], config: ImageConfig, refName: string): WrittenImage {
  const configJson = {
    created: IMAGE_CREATED,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: config.user,
      Env: Object.entries(config.env).map(([k, v]) => `${k}=${v}`),
      Entrypoint: [...config.entrypoint],
      Cmd: [...config.cmd],
      WorkingDir: config.workingDir,
      Labels: { ...config.labels },
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: IMAGE_CREATED, created_by: l.createdBy })),
  };
  const configDescriptor = writeBlob(layout, MEDIA_TYPE_CONFIG, Buffer.from(JSON.stringify(configJson)));
  const manifestJson = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_MANIFEST,
    config: configDescriptor,
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPE_LAYER, digest: l.digest, size: l.size })),
    annotations: { 'org.opencontainers.image.title': config.labels['org.opencontainers.image.title'] ?? '', 'org.opencontainers.image.version': config.labels['org.opencontainers.image.version'] ?? '' },
  };
  const manifest = writeBlob(layout, MEDIA_TYPE_MANIFEST, Buffer.from(JSON.stringify(manifestJson)));
  const indexed: Descriptor = { ...manifest, annotations: { [REF_NAME_ANNOTATION]: refName }, platform: { architecture: 'amd64', os: 'linux' } };
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [indexed] }));
  return {
    digest: manifest.digest,
    manifest,
    config: configDescriptor,
    layers,
    size: manifest.size + configDescriptor.size + layers.reduce((sum, l) => sum + l.size, 0),
  };
}

/** The blobs index.json reaches (manifests, their configs and layers). */
export function referencedBlobs(layout: string): string[] {
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const digests = new Set<string>();
  for (const m of index.manifests) {
    digests.add(m.digest);
    const manifest = JSON.parse(readFileSync(blobPath(layout, m.digest), 'utf8')) as { config: Descriptor; layers: Descriptor[] };
    digests.add(manifest.config.digest);
    for (const l of manifest.layers) digests.add(l.digest);
  }
  return [...digests].sort();
}

/** Removes blobs index.json does not reach, except `keep` (e.g. cached layers of other builds). */
export function pruneBlobs(layout: string, keep: ReadonlySet<string> = new Set()): void {
  const live = new Set([...referencedBlobs(layout), ...keep]);
  const dir = join(layout, 'blobs', 'sha256');
  for (const name of readdirSync(dir)) if (!live.has(`sha256:${name}`)) rmSync(join(dir, name), { force: true });
}

/** The layout as a tar stream (what `ctr images import` reads), holding only the blobs index.json reaches. */
export function layoutArchive(layout: string): Readable {
  const file = (path: string): TarEntry => ({ type: 'file', path, mode: 0o644, uid: 0, gid: 0, size: statSync(join(layout, path)).size, content: { file: join(layout, path) } });
  const entries: TarEntry[] = [
    { type: 'dir', path: 'blobs', mode: 0o755, uid: 0, gid: 0 },
    { type: 'dir', path: 'blobs/sha256', mode: 0o755, uid: 0, gid: 0 },
    ...referencedBlobs(layout).map((d) => file(`blobs/sha256/${d.slice('sha256:'.length)}`)),
    file('index.json'),
    file('oci-layout'),
  ];
  return tarStream(entries);
}
