// The real node's own images (hack/tools/node-images, built by hack/cluster-binaries.sh): `pause`, the Pod
// sandbox containerd runs (there is no registry to pull one from), and `netcheck`, the real-node tests'
// program. Cached per content of their sources under the same hash the script computes.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT, cacheDir } from '../binaries.ts';
import { run } from './host-exec.ts';

export const NODE_IMAGES_SOURCE = join(REPO_ROOT, 'hack', 'tools', 'node-images');
export const NODE_IMAGE_NAMES = ['pause', 'netcheck'] as const;
export type NodeImageName = (typeof NODE_IMAGE_NAMES)[number];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return entry.endsWith('.go') || entry === 'go.mod' ? [path] : [];
  });
}

/** Same as node_images_hash in hack/cluster-binaries.sh: "<./path>\n<content>" per file, paths in byte order. */
export function nodeImagesTag(source = NODE_IMAGES_SOURCE): string {
  const files = sourceFiles(source)
    .map((path) => `./${relative(source, path)}`)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(join(source, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

export interface NodeImage {
  readonly name: NodeImageName;
  /** What Pods and containerd's sandbox_image name it; imported under this name, never pulled. */
  readonly ref: string;
  /** The OCI layout as a tar archive, what `ctr images import` reads. */
  readonly archive: string;
}

export function nodeImages(env: NodeJS.ProcessEnv = process.env): Record<NodeImageName, NodeImage> {
  const tag = nodeImagesTag();
  const dir = join(cacheDir(env), `node-images-${tag}`);
  const image = (name: NodeImageName): NodeImage => ({ name, ref: `localhost/m87/${name}:${tag}`, archive: join(dir, `${name}.oci.tar`) });
  return { pause: image('pause'), netcheck: image('netcheck') };
}

export function missingNodeImages(images: Record<NodeImageName, NodeImage>): NodeImage[] {
  return Object.values(images).filter((image) => !existsSync(image.archive));
}

/**
 * Imports an OCI archive into containerd's CRI namespace (k8s.io) under ref. The layout's own tag
 * (org.opencontainers.image.ref.name) is the tag of ref; --base-name supplies the repository.
 */
export async function importNodeImage(ctr: string, socket: string, image: NodeImage): Promise<void> {
  const repository = image.ref.slice(0, image.ref.lastIndexOf(':'));
  await run(ctr, ['--address', socket, '--namespace', 'k8s.io', 'images', 'import', '--base-name', repository, image.archive]);
  const { stdout } = await run(ctr, ['--address', socket, '--namespace', 'k8s.io', 'images', 'list', '--quiet']);
  if (!stdout.split('\n').includes(image.ref)) {
    throw new Error(`importing ${image.archive} into containerd did not produce the image ${image.ref} (found: ${stdout.trim().split('\n').join(', ')})`);
  }
}
