// The shipped tools' images, built offline and reproducibly with the same layer writer as the m87 image: one
// layer each, holding exactly the host programs the tool runs, the shared libraries they load (ldd), a
// passwd naming the non-root user and nothing else — no shell except where a tool needs one (the git image's
// m87-apply-patch). The runner is not in them: a step Pod delivers it (docs/architecture.md, "Job execution").
//
//   tool-git            git, git-remote-http(s), git's templates, dash as /bin/sh, m87-apply-patch (dev/image/tool-bin)
//   tool-python-pytest  the host's CPython 3 (interpreter, standard library, lib-dynload and their libraries) and
//                       pytest (PYTEST_REQUIREMENT) installed with pip from a wheel downloaded once from PyPI
//   tool-curl           curl (http-get and notify; it honours the egress gate's http(s)_proxy)
//
// Their content comes from this host's Debian packages, so their digests are this host's: `npm run image --
// --tools --write-catalogue` writes them to src/tool-catalogue/tool-images.json, which default-catalogue.ts
// pins, and test/integration/image/tool-images.test.ts fails when a fresh build differs.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cacheDir as m87CacheDir, REPO_ROOT } from '../cluster/binaries.ts';
import { cachedLayer, imageCacheDir, layerEntries, layerKey, normalizedMode, ROOT_OWNED, type BuiltImage, type FileSource, type LayerPlan, type LayerRecord } from './build.ts';
import { sharedLibraries } from './node-runtime.ts';
import { initLayout, pruneBlobs, writeImage, writeLayer } from './oci.ts';
import { IMAGE_GID, IMAGE_UID, IMAGE_USER } from './spec.ts';

export const TOOL_IMAGE_NAMES = ['tool-git', 'tool-python-pytest', 'tool-curl'] as const;
export type ToolImageName = (typeof TOOL_IMAGE_NAMES)[number];
/** The repository a tool image is named under in a node's containerd (and in the catalogue). */
export const toolImageRepository = (name: ToolImageName): string => `m87.local/${name}`;
export const PYTEST_REQUIREMENT = 'pytest==8.4.2';
const TOOL_PATH = '/usr/local/bin:/usr/bin:/bin';
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const TOOL_IMAGE_TAG = '1';

interface ImageContent {
  files: FileSource[];
  symlinks: { path: string; target: string }[];
  /** Binaries whose shared libraries (ldd) go in as well. */
  programs: string[];
  description: string;
}

function hostFile(path: string, imagePath = path): FileSource {
  return { path: imagePath, mode: normalizedMode(lstatSync(realpathSync(path)).mode), content: { file: realpathSync(path) } };
}

/** Every regular file and symlink below `host`, placed below `image`; `skip` names directory base names left out. */
function tree(host: string, image: string, skip: ReadonlySet<string> = new Set()): Pick<ImageContent, 'files' | 'symlinks'> {
  const files: FileSource[] = [];
  const symlinks: { path: string; target: string }[] = [];
  const walk = (h: string, i: string): void => {
    for (const entry of readdirSync(h, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const hp = join(h, entry.name);
      const ip = `${i}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!skip.has(entry.name)) walk(hp, ip);
      } else if (entry.isSymbolicLink()) symlinks.push({ path: ip, target: readlinkSync(hp) });
      else if (entry.isFile()) files.push({ path: ip, mode: normalizedMode(lstatSync(hp).mode), content: { file: hp } });
    }
  };
  walk(host, image);
  return { files, symlinks };
}

function gitContent(root: string): ImageContent {
  const templates = tree('/usr/share/git-core/templates', '/usr/share/git-core/templates');
  return {
    files: [
      hostFile('/usr/bin/git'),
      hostFile('/usr/lib/git-core/git'),
      hostFile('/usr/lib/git-core/git-remote-http'),
      hostFile('/usr/bin/dash', '/bin/sh'),
      hostFile(join(root, 'dev', 'image', 'tool-bin', 'm87-apply-patch'), '/usr/local/bin/m87-apply-patch'),
      ...templates.files,
    ],
    symlinks: [{ path: '/usr/lib/git-core/git-remote-https', target: 'git-remote-http' }, ...templates.symlinks],
    programs: ['/usr/bin/git', '/usr/lib/git-core/git-remote-http', '/usr/bin/dash'],
    description: `git (${execFileSync('git', ['--version'], { encoding: 'utf8' }).trim()}), dash as /bin/sh, m87-apply-patch`,
  };
}

/** pytest and its dependencies, installed once with pip (no bytecode, no scripts) from a wheel cache filled from PyPI. */
function stagePytest(cache: string, progress: (line: string) => void): string {
  const staged = join(cache, 'tools', `site-${PYTEST_REQUIREMENT.replace(/[^A-Za-z0-9.]/g, '-')}`);
  if (existsSync(join(staged, '.complete'))) return staged;
  const wheels = join(cache, 'tools', 'wheels');
  mkdirSync(wheels, { recursive: true });
  if (!readdirSync(wheels).some((f) => f.startsWith('pytest-'))) {
    progress(`downloading ${PYTEST_REQUIREMENT} and its dependencies from PyPI…`);
    execFileSync('/usr/bin/python3', ['-m', 'pip', 'download', '--quiet', '--only-binary=:all:', '-d', wheels, PYTEST_REQUIREMENT], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  rmSync(staged, { recursive: true, force: true });
  execFileSync('/usr/bin/python3', ['-m', 'pip', 'install', '--quiet', '--no-index', '--find-links', wheels, '--no-compile', '--no-warn-script-location', '--target', staged, PYTEST_REQUIREMENT], { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: TOOL_PATH, PYTHONDONTWRITEBYTECODE: '1', SOURCE_DATE_EPOCH: '0' } });
  rmSync(join(staged, 'bin'), { recursive: true, force: true });
  writeFileSync(join(staged, '.complete'), '');
  return staged;
}

function pythonContent(cache: string, progress: (line: string) => void): ImageContent {
  const interpreter = realpathSync('/usr/bin/python3');
  const version = /python(3\.\d+)$/.exec(interpreter)?.[1];
  if (version === undefined) throw new Error(`/usr/bin/python3 resolves to ${interpreter}, not a python3.X binary`);
  const stdlibDir = `/usr/lib/python${version}`;
  const stdlib = tree(stdlibDir, stdlibDir, new Set(['__pycache__', 'test', 'idlelib', 'tkinter', 'turtledemo', 'ensurepip', 'lib2to3', 'distutils', `config-${version}-x86_64-linux-gnu`]));
  const site = tree(stagePytest(cache, progress), '/usr/lib/python3/dist-packages', new Set(['__pycache__']));
  site.files = site.files.filter((f) => !f.path.endsWith('/.complete'));
  const dynload = join(stdlibDir, 'lib-dynload');
  return {
    files: [hostFile(interpreter), ...stdlib.files, ...site.files],
    symlinks: [{ path: '/usr/bin/python3', target: `python${version}` }, ...stdlib.symlinks, ...site.symlinks],
    programs: [interpreter, ...readdirSync(dynload).filter((f) => f.endsWith('.so')).sort().map((f) => join(dynload, f))],
    description: `CPython ${version} (${interpreter}) with its standard library and ${PYTEST_REQUIREMENT}`,
  };
}

function curlContent(): ImageContent {
  return {
    files: [hostFile('/usr/bin/curl')],
    symlinks: [],
    programs: ['/usr/bin/curl'],
    description: `curl (${execFileSync('curl', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.split(' ').slice(0, 2).join(' ')})`,
  };
}

async function layerPlan(name: ToolImageName, content: ImageContent): Promise<LayerPlan> {
  const libs = new Map<string, string>();
  for (const program of content.programs) for (const l of await sharedLibraries(program)) libs.set(l.imagePath, l.hostFile);
  const passwd = `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${IMAGE_UID}:${IMAGE_GID}:nonroot:/home/nonroot:/sbin/nologin\n`;
  const group = `root:x:0:\nnonroot:x:${IMAGE_GID}:\n`;
  const taken = new Set(content.files.map((f) => f.path));
  const files: FileSource[] = [
    ...content.files,
    ...[...libs].filter(([p]) => !taken.has(p)).map(([imagePath, file]) => ({ path: imagePath, mode: 0o755, content: { file } })),
    { path: '/etc/passwd', mode: 0o644, content: Buffer.from(passwd) },
    { path: '/etc/group', mode: 0o644, content: Buffer.from(group) },
    ...(existsSync(CA_BUNDLE) ? [{ path: CA_BUNDLE, mode: 0o644, content: { file: realpathSync(CA_BUNDLE) } }] : []),
  ];
  return {
    name,
    createdBy: `m87 ${name}: ${content.description}; shared libraries ${[...libs.keys()].map((p) => p.split('/').pop()).sort().join(', ')}`,
    entries: layerEntries(files, content.symlinks, { tmp: { mode: 0o1777, ...ROOT_OWNED }, 'home/nonroot': { mode: 0o700, uid: IMAGE_UID, gid: IMAGE_GID }, workspace: { mode: 0o755, ...ROOT_OWNED } }),
  };
}

export interface ToolImageOptions {
  readonly root?: string;
  readonly cacheDir?: string;
  readonly imageDir?: string;
  readonly progress?: (line: string) => void;
}

/** Builds one tool image into <image cache>/tools/<name>/oci (its layer cached by content); the caller holds the image cache lock. */
export async function buildToolImageLocked(name: ToolImageName, options: ToolImageOptions = {}): Promise<BuiltImage> {
  const started = performance.now();
  const root = options.root ?? REPO_ROOT;
  const cache = options.cacheDir ?? m87CacheDir();
  const progress = options.progress ?? ((): void => {});
  const dir = join(imageCacheDir(options), 'tools', name);
  const layout = join(dir, 'oci');
  initLayout(layout);
  mkdirSync(join(dir, 'layers'), { recursive: true });
  const content = name === 'tool-git' ? gitContent(root) : name === 'tool-python-pytest' ? pythonContent(cache, progress) : curlContent();
  const plan = await layerPlan(name, content);
  const key = layerKey(plan);
  const bytes = plan.entries.reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0);
  let record: LayerRecord | null = cachedLayer(dir, layout, key);
  const cached = record !== null;
  if (record === null) {
    progress(`writing ${name} (${plan.entries.length} entries, ${(bytes / 1e6).toFixed(1)} MB)…`);
    record = { ...(await writeLayer(layout, plan.entries, plan.createdBy)), key };
    writeFileSync(join(dir, 'layers', `${key}.json`), JSON.stringify(record));
  }
  for (const f of readdirSync(join(dir, 'layers'))) if (f !== `${key}.json`) rmSync(join(dir, 'layers', f), { force: true });
  const repository = toolImageRepository(name);
  const image = writeImage(
    layout,
    [record],
    { user: IMAGE_USER, env: { PATH: TOOL_PATH }, entrypoint: [], cmd: [], workingDir: '/workspace', labels: { 'org.opencontainers.image.title': `m87 ${name}`, 'org.opencontainers.image.version': TOOL_IMAGE_TAG } },
    TOOL_IMAGE_TAG,
  );
  pruneBlobs(layout);
  return {
    digest: image.digest,
    size: image.size,
    unpackedSize: bytes,
    layout,
    repository,
    tag: TOOL_IMAGE_TAG,
    reference: `${repository}@${image.digest}`,
    taggedReference: `${repository}:${TOOL_IMAGE_TAG}`,
    nodeVersion: '',
    layers: [{ name, digest: record.digest, size: record.size, cached }],
    seconds: (performance.now() - started) / 1000,
  };
}

/** Where the catalogue's pinned tool image digests live (written by `npm run image -- --tools --write-catalogue`). */
export const TOOL_IMAGES_JSON = resolve(REPO_ROOT, 'src', 'tool-catalogue', 'tool-images.json');

export function writeToolImagesJson(images: Readonly<Record<ToolImageName, string>>, file: string = TOOL_IMAGES_JSON): void {
  writeFileSync(file, `${JSON.stringify(Object.fromEntries(TOOL_IMAGE_NAMES.map((n) => [n, images[n]])), null, 2)}\n`);
}

export function readToolImagesJson(file: string = TOOL_IMAGES_JSON): Record<string, string> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
}
