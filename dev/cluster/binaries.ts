// Where the local control plane's binaries live. Versions are pinned in hack/versions.env (shared with
// hack/cluster-binaries.sh); binaries are cached per version outside the repo, and KUBEBUILDER_ASSETS, when
// set, supplies any binary found there (the envtest convention).
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
export const VERSIONS_FILE = join(REPO_ROOT, 'hack', 'versions.env');

export type BinaryName =
  | 'etcd'
  | 'kube-apiserver'
  | 'kube-controller-manager'
  | 'kube-scheduler'
  | 'kubectl'
  | 'helm'
  | 'netpolicy'
  | 'promtool'
  | 'prometheus'
  | 'kubelet'
  | 'kube-router';

export const CONTROL_PLANE_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
] as const satisfies readonly BinaryName[];

export interface Versions {
  readonly kubernetes: string;
  readonly etcd: string;
  readonly helm: string;
  readonly netpolAnalyzer: string;
  readonly kubeRouter: string;
}

/** Parses a shell-style KEY=VALUE file: comments and blank lines are skipped, optional quotes removed. */
export function parseEnvFile(text: string, source = 'env file'): Map<string, string> {
  const entries = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`${source}:${index + 1}: expected KEY=VALUE, got ${JSON.stringify(raw)}`);
    entries.set(match[1] ?? '', unquote((match[2] ?? '').trim()));
  });
  return entries;
}

function unquote(value: string): string {
  if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.at(-1) === value[0]) {
    return value.slice(1, -1);
  }
  return value.replace(/\s+#.*$/, '');
}

export function readVersions(file = VERSIONS_FILE): Versions {
  const env = parseEnvFile(readFileSync(file, 'utf8'), file);
  const need = (key: string): string => {
    const value = env.get(key);
    if (value === undefined || value === '') throw new Error(`${file}: ${key} is missing or empty`);
    return value;
  };
  return {
    kubernetes: need('K8S_VERSION'),
    etcd: need('ETCD_VERSION'),
    helm: need('HELM_VERSION'),
    netpolAnalyzer: need('NETPOL_ANALYZER_VERSION'),
    kubeRouter: need('KUBE_ROUTER_VERSION'),
  };
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '' ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'm87');
}

/** The cache location hack/cluster-binaries.sh installs each binary to. */
export function cachedBinaryPath(name: BinaryName, versions: Versions, cache: string): string {
  switch (name) {
    case 'etcd':
      return join(cache, `etcd-${versions.etcd}`, 'bin', name);
    case 'kube-apiserver':
    case 'kube-controller-manager':
    case 'kube-scheduler':
    case 'kubectl':
    case 'kubelet':
      return join(cache, `k8s-${versions.kubernetes}`, 'bin', name);
    case 'kube-router':
      return join(cache, `kube-router-${versions.kubeRouter}`, 'bin', name);
    case 'helm':
      return join(cache, `helm-${versions.helm}`, 'bin', name);
    case 'netpolicy':
      return join(cache, `netpol-analyzer-${versions.netpolAnalyzer}`, 'bin', name);
    case 'promtool':
    case 'prometheus':
      return join(cache, 'promtool', 'bin', name);
  }
}

export class MissingBinaryError extends Error {
  readonly binary: BinaryName;
  readonly looked: readonly string[];
  constructor(binary: BinaryName, looked: readonly string[]) {
    super(
      `m87: the binary '${binary}' was not found (looked at ${looked.join(', ')}). ` +
        `Run \`npm run binaries\` to build and cache it, or set KUBEBUILDER_ASSETS to a directory that contains it.`,
    );
    this.name = 'MissingBinaryError';
    this.binary = binary;
    this.looked = looked;
  }
}

export interface ResolveOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly versions?: Versions;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of an executable binary; KUBEBUILDER_ASSETS wins over the cache. */
export function resolveBinary(name: BinaryName, options: ResolveOptions = {}): string {
  const env = options.env ?? process.env;
  const versions = options.versions ?? readVersions();
  const candidates: string[] = [];
  const assets = env.KUBEBUILDER_ASSETS;
  if (assets !== undefined && assets !== '') candidates.push(join(assets, name));
  candidates.push(cachedBinaryPath(name, versions, cacheDir(env)));
  const found = candidates.find(isExecutable);
  if (found === undefined) throw new MissingBinaryError(name, candidates);
  return found;
}

export type ControlPlaneBinaries = Record<(typeof CONTROL_PLANE_BINARIES)[number], string>;

/** All control-plane binaries, or one error that names every missing binary. */
export function resolveControlPlaneBinaries(options: ResolveOptions = {}): ControlPlaneBinaries {
  const versions = options.versions ?? readVersions();
  const resolved: Partial<Record<BinaryName, string>> = {};
  const missing: MissingBinaryError[] = [];
  for (const name of CONTROL_PLANE_BINARIES) {
    try {
      resolved[name] = resolveBinary(name, { ...options, versions });
    } catch (error) {
      if (!(error instanceof MissingBinaryError)) throw error;
      missing.push(error);
    }
  }
  const [first] = missing;
  if (first !== undefined && missing.length === 1) throw first;
  if (missing.length > 1) {
    throw new Error(
      `m87: control-plane binaries missing: ${missing.map((e) => e.binary).join(', ')} ` +
        `(looked in ${[...new Set(missing.flatMap((e) => e.looked.map((path) => dirname(path))))].join(', ')}). ` +
        `Run \`npm run binaries\` to build and cache them, or set KUBEBUILDER_ASSETS to a directory that contains them.`,
    );
  }
  return resolved as ControlPlaneBinaries;
}
