// Which local program stands in for a container image. There is no container runtime: an image is "mapped"
// when the node knows the host command for each executable the Pod may name.
import { resolve } from 'node:path';
import { basename } from 'node:path/posix';
import type { ContainerSpec } from './pod-types.ts';

export interface ImageMapping {
  /** Image reference; a trailing '*' matches any suffix (e.g. 'ghcr.io/m87/m87:*'). */
  readonly image: string;
  /**
   * The image's executables: the name a container command uses (exact path or base name) → the host argv
   * prefix that runs it. The container's remaining arguments follow the prefix.
   */
  readonly executables: Readonly<Record<string, readonly string[]>>;
  /** The image's ENTRYPOINT, used when the container sets no command. */
  readonly entrypoint?: readonly string[];
  /** The image's ENV: the base of the container's environment (its own env overrides it). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The image is a tool image of a step Pod: its containers run the runner delivered into the Pod
   * (`/m87/lib/ld-linux-x86-64.so.2 … /m87/app/dist/cli/main.js step <i>`), which the process node runs as this
   * checkout's CLI; the tool programs the runner starts are the host's, found through `env.PATH`.
   */
  readonly deliveredRunner?: boolean;
  /** The checkout whose CLI runs the delivered runner (default: this one). */
  readonly repoRoot?: string;
  /**
   * Host argv that runs the delivered runner instead of `node <repoRoot>/src/cli/main.ts` (the demo's node
   * fault injector wraps it this way); the runner's arguments follow.
   */
  readonly deliveredRunnerPrefix?: readonly string[];
}

/** The repository this file belongs to (src/node → repo root). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export const RUNNER_IMAGE_PATTERNS = ['ghcr.io/m87/m87:*', 'ghcr.io/m87/m87@*'] as const;

/**
 * The M87 image → this checkout's CLI, run by the current node binary. `install-runner` links rather than
 * copies (M87_RUNNER_DELIVERY=link): step containers here run the checkout's CLI anyway.
 */
export function defaultImageMap(repoRoot: string = REPO_ROOT): ImageMapping[] {
  const m87 = [process.execPath, resolve(repoRoot, 'src', 'cli', 'main.ts')];
  return RUNNER_IMAGE_PATTERNS.map((image) => ({ image, executables: { m87 }, entrypoint: ['m87'], env: { M87_RUNNER_DELIVERY: 'link' }, deliveredRunner: true }));
}

const DELIVERED_LOADER = 'ld-linux-x86-64.so.2';
const DELIVERED_MAIN = '/app/dist/cli/main.js';

/** A tool image of a step Pod, standing in with host programs on `path` (see README, "Step Pods"). */
export function toolImageMapping(image: string, path: string, repoRoot: string = REPO_ROOT): ImageMapping {
  return { image, executables: {}, env: { PATH: path }, deliveredRunner: true, repoRoot };
}

export function matchImage(imageMap: readonly ImageMapping[], image: string): ImageMapping | undefined {
  return imageMap.find((m) => (m.image.endsWith('*') ? image.startsWith(m.image.slice(0, -1)) : image === m.image));
}

export type ResolvedCommand =
  | { ok: true; prefix: string[]; args: string[] }
  | { ok: false; reason: 'ImageNotMapped' | 'StartError'; message: string };

/**
 * Host argv for a container (already $(VAR)-expanded): Kubernetes' command/args rules, then the executable
 * mapped to a host command prefix; `args` are the container's remaining arguments.
 */
export function resolveCommand(imageMap: readonly ImageMapping[], container: ContainerSpec): ResolvedCommand {
  const image = container.image ?? '';
  const mapping = matchImage(imageMap, image);
  if (!mapping) {
    return { ok: false, reason: 'ImageNotMapped', message: `image ${JSON.stringify(image)} is not in the process node's image map` };
  }
  const command = container.command !== undefined && container.command.length > 0 ? container.command : (mapping.entrypoint ?? []);
  const argv = [...command, ...(container.args ?? [])];
  const [exe, ...rest] = argv;
  if (exe === undefined) {
    return { ok: false, reason: 'StartError', message: `containers[${container.name}]: no command and image ${image} has no entrypoint` };
  }
  if (mapping.deliveredRunner === true && basename(exe) === DELIVERED_LOADER) {
    const main = rest.findIndex((a) => a.endsWith(DELIVERED_MAIN));
    if (main < 0) return { ok: false, reason: 'StartError', message: `containers[${container.name}]: ${exe} does not run the delivered runner` };
    const repoRoot = mapping.repoRoot ?? REPO_ROOT;
    const prefix = mapping.deliveredRunnerPrefix ?? [process.execPath, resolve(repoRoot, 'src', 'cli', 'main.ts')];
    return { ok: true, prefix: [...prefix], args: rest.slice(main + 1) };
  }
  const prefix = mapping.executables[exe] ?? mapping.executables[basename(exe)];
  if (prefix === undefined || prefix.length === 0) {
    return { ok: false, reason: 'StartError', message: `exec: ${JSON.stringify(exe)}: executable file not found in image ${image} (process node image map)` };
  }
  return { ok: true, prefix: [...prefix], args: rest };
}
