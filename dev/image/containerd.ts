// Importing the built image into a containerd (the node's, namespace k8s.io where the CRI plugin and so the
// kubelet look) and checking it is there by digest. No registry is involved: Pods reference the image as
// `m87.local/m87@sha256:…` with imagePullPolicy IfNotPresent or Never.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { BuiltImage } from './build.ts';
import { layoutArchive } from './oci.ts';

const run = promisify(execFile);
export const CRI_NAMESPACE = 'k8s.io';

export interface ImportOptions {
  /** containerd's gRPC socket. */
  readonly address: string;
  /** Default k8s.io (the namespace the CRI plugin serves). */
  readonly namespace?: string;
  /** The ctr binary (default: `ctr` on PATH). */
  readonly ctr?: string;
  readonly progress?: (line: string) => void;
}

export interface ImportedImage {
  readonly repository: string;
  /** `repository@sha256:…`: the reference to put in Pod specs. */
  readonly reference: string;
  readonly digest: string;
  /** `repository:<version>`: the same image by tag. */
  readonly taggedReference: string;
}

/** Fails with what is wrong when `address` is not a usable containerd socket (checked before a build, too). */
export function checkContainerdSocket(address: string): void {
  if (!existsSync(address)) throw new Error(`no containerd socket at ${address} (is containerd running there?)`);
  if (!statSync(address).isSocket()) throw new Error(`${address} is not a socket`);
  try {
    accessSync(address, constants.R_OK | constants.W_OK);
  } catch (error) {
    throw new Error(`cannot use the containerd socket ${address}: ${(error as Error).message}${process.getuid?.() !== 0 ? ' (importing into containerd needs root)' : ''}`, { cause: error });
  }
}

function ctrMissing(error: unknown, ctr: string): Error {
  return new Error(`${ctr} (containerd's client) is missing: install containerd as root (apt-get install containerd)`, { cause: error });
}

/** Image names and their target digests in the namespace (`ctr images ls`). */
export async function listImages(address: string, namespace = CRI_NAMESPACE, ctr = 'ctr'): Promise<Map<string, string>> {
  let stdout: string;
  try {
    ({ stdout } = await run(ctr, ['--address', address, '--namespace', namespace, 'images', 'ls'], { maxBuffer: 16 * 1024 * 1024 }));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw ctrMissing(error, ctr);
    throw new Error(`ctr images ls at ${address} failed: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim()}`, { cause: error });
  }
  const images = new Map<string, string>();
  for (const line of stdout.split('\n').slice(1)) {
    // REF TYPE DIGEST SIZE PLATFORMS LABELS
    const [ref, , digest] = line.trim().split(/\s+/);
    if (ref && digest?.startsWith('sha256:')) images.set(ref, digest);
  }
  return images;
}

/**
 * Imports `image` (its OCI layout, streamed as an archive) into containerd under `<repository>:<tag>` and
 * `<repository>@<digest>`, then checks that both names resolve to the built digest.
 */
export async function importImage(image: BuiltImage, options: ImportOptions): Promise<ImportedImage> {
  const namespace = options.namespace ?? CRI_NAMESPACE;
  const ctr = options.ctr ?? 'ctr';
  checkContainerdSocket(options.address);
  try {
    await run(ctr, ['--version']);
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? ctrMissing(error, ctr) : new Error(`${ctr} --version failed: ${(error as Error).message}`, { cause: error });
  }
  options.progress?.(`importing ${image.taggedReference} (${image.digest}) into containerd at ${options.address} (namespace ${namespace})…`);
  // --digests adds the `repository@digest` name, the one CRI resolves digest references through.
  const child = spawn(ctr, ['--address', options.address, '--namespace', namespace, 'images', 'import', '--base-name', image.repository, '--digests', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (error) => reject((error as NodeJS.ErrnoException).code === 'ENOENT' ? ctrMissing(error, ctr) : error));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  const sent = pipeline(layoutArchive(image.layout), child.stdin).catch((error: unknown) => error as Error);
  const [code, sendError] = await Promise.all([exited, sent]);
  if (code !== 0) throw new Error(`ctr images import into ${options.address} failed (exit ${code}): ${output.trim().split('\n').slice(-5).join(' | ')}`);
  if (sendError) throw new Error(`streaming the image to ctr failed: ${sendError.message}`, { cause: sendError });

  const images = await listImages(options.address, namespace, ctr);
  for (const name of [image.taggedReference, image.reference]) {
    const found = images.get(name);
    if (found !== image.digest) throw new Error(`after the import, containerd at ${options.address} has ${name} ${found === undefined ? 'missing' : `at ${found}`}, expected ${image.digest}`);
  }
  return { repository: image.repository, reference: image.reference, digest: image.digest, taggedReference: image.taggedReference };
}
