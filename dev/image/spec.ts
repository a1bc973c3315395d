// What the m87 image is, in the offline build's terms. The Dockerfile describes the same image for
// `docker build`; test/unit/image/dockerfile.test.ts keeps the two from drifting (entrypoint, user, env,
// workdir, launcher, labels, Node major version, the build and the file set).
import { BUILD_SOURCES, DIST_DIR, RUNTIME_NODE_FLAGS } from '../build/compile.ts';

/** UID and GID of every process in the image (distroless "nonroot"; the chart's securityContext uses it). */
export const IMAGE_UID = 65532;
export const IMAGE_GID = 65532;
export const IMAGE_USER = `${IMAGE_UID}:${IMAGE_GID}`;

/** Where the Node binary lives in the image (the distroless nodejs layout the Dockerfile's runtime stage uses). */
export const IMAGE_NODE = '/nodejs/bin/node';
export const IMAGE_WORKDIR = '/app';
export const IMAGE_PATH = '/nodejs/bin:/usr/local/bin:/usr/bin:/bin';
export const IMAGE_ENV: Readonly<Record<string, string>> = { PATH: IMAGE_PATH, NODE_ENV: 'production' };
/** The compiled CLI (dev/build/compile.ts), run with type stripping off: the image loads no .ts file. */
export const IMAGE_MAIN = `${IMAGE_WORKDIR}/${DIST_DIR}/cli/main.js`;
export const IMAGE_ENTRYPOINT: readonly string[] = [IMAGE_NODE, ...RUNTIME_NODE_FLAGS, IMAGE_MAIN];
export const IMAGE_CMD: readonly string[] = ['--help'];

/** `m87` on PATH for job Pods' `command: ["m87", "runner"]`; no shell exists, so the shebang carries the Node flag. */
export const LAUNCHER_PATH = '/usr/local/bin/m87';
export const LAUNCHER = `#!${IMAGE_NODE} ${RUNTIME_NODE_FLAGS.join(' ')}\nimport('${IMAGE_MAIN}');\n`;

/** The checkout paths copied into /app as they are (besides the build's output, dist/). */
export const APP_SOURCES: readonly string[] = ['package.json'];
/** What the build stage copies from the checkout before compiling (dev/build/compile.ts). */
export { BUILD_SOURCES };
/** The build stage's command (run in /app with the dev dependencies installed); it writes /app/dist. */
export const BUILD_COMMAND = 'node dev/build/compile.ts';
/** What the dependency stage copies before `npm ci`. */
export const DEPENDENCY_SOURCES: readonly string[] = ['package.json', 'package-lock.json'];

export function imageLabels(version: string): Record<string, string> {
  return {
    'org.opencontainers.image.title': 'm87',
    'org.opencontainers.image.description': 'Governed execution for AI agents: controller and in-pod runner',
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.licenses': 'Apache-2.0',
  };
}

/** The repository the offline-built image is named under in a node's containerd (no registry serves it). */
export const LOCAL_REPOSITORY = 'm87.local/m87';
