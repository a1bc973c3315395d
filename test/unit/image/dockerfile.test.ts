// The Dockerfile (for `docker build`) and the offline build (`npm run image`, dev/image) must describe the same
// image: this reads the Dockerfile and compares it with what the offline build puts into the image.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUILD_STAMP, DIST_DIR, distOutput, RUNTIME_NODE_FLAGS, srcFiles } from '../../../dev/build/compile.ts';
import { ensureDist } from '../../../dev/build/ensure.ts';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { appLayerEntries, packageVersion } from '../../../dev/image/build.ts';
import { readContextFilter } from '../../../dev/image/context.ts';
import { pinnedNodeVersion } from '../../../dev/image/node-runtime.ts';
import {
  APP_SOURCES,
  BUILD_COMMAND,
  BUILD_SOURCES,
  DEPENDENCY_SOURCES,
  IMAGE_CMD,
  IMAGE_ENTRYPOINT,
  IMAGE_ENV,
  IMAGE_MAIN,
  IMAGE_NODE,
  IMAGE_USER,
  IMAGE_WORKDIR,
  imageLabels,
  LAUNCHER,
  LAUNCHER_PATH,
} from '../../../dev/image/spec.ts';
import { copyParts, keyValuePairs, parseDockerfile, stageArgs, type Instruction, type Stage } from './dockerfile.ts';

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1) as Stage;
const deps = dockerfile.stages.find((s) => s.name === 'deps');
const build = dockerfile.stages.find((s) => s.name === 'build');
const only = (stage: Stage, op: string): Instruction => {
  const found = stage.instructions.filter((i) => i.op === op);
  if (found.length !== 1) throw new Error(`expected one ${op} in the Dockerfile's final stage, found ${found.length}`);
  return found[0] as Instruction;
};
const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => ({ ...copyParts(i.args), heredoc: i.heredoc }));
const resolveIn = (workdir: string, dest: string): string => posix.resolve(workdir, dest).replace(/\/$/, '');

describe('Dockerfile and offline build describe the same image', () => {
  // The offline build's app layer is the checkout's dist/ (built here if the sources changed).
  beforeAll(() => ensureDist(REPO_ROOT), 180_000);

  it('run the same entrypoint and default command: the compiled CLI with type stripping off', () => {
    expect(JSON.parse(only(runtime, 'ENTRYPOINT').args)).toEqual(IMAGE_ENTRYPOINT);
    expect(JSON.parse(only(runtime, 'CMD').args)).toEqual(IMAGE_CMD);
    expect(IMAGE_ENTRYPOINT).toEqual([IMAGE_NODE, '--no-experimental-strip-types', `${IMAGE_WORKDIR}/${DIST_DIR}/cli/main.js`]);
    expect(IMAGE_MAIN).toBe(IMAGE_ENTRYPOINT.at(-1));
  });

  it('run as UID/GID 65532 in /app with the same environment (m87 on PATH)', () => {
    expect(only(runtime, 'USER').args).toBe(IMAGE_USER);
    expect(IMAGE_USER).toBe('65532:65532');
    expect(only(runtime, 'WORKDIR').args).toBe(IMAGE_WORKDIR);
    expect(keyValuePairs(only(runtime, 'ENV').args)).toEqual(IMAGE_ENV);
    expect(IMAGE_ENV.PATH?.split(':')).toEqual(expect.arrayContaining([posix.dirname(IMAGE_NODE), posix.dirname(LAUNCHER_PATH)]));
  });

  it('carry the same labels, with the version of package.json', () => {
    const vars = stageArgs(runtime);
    expect(vars.VERSION).toBe(packageVersion(REPO_ROOT));
    expect(keyValuePairs(only(runtime, 'LABEL').args, vars)).toEqual(imageLabels(packageVersion(REPO_ROOT)));
  });

  it('install the same m87 launcher, root-owned and read-only', () => {
    const launcher = copies.filter((c) => c.heredoc !== undefined);
    expect(launcher).toHaveLength(1);
    expect(launcher[0]?.dest).toBe(LAUNCHER_PATH);
    expect(launcher[0]?.heredoc).toBe(LAUNCHER);
    const entry = appLayerEntries().find((e) => `/${e.path}` === LAUNCHER_PATH);
    expect(entry).toMatchObject({ type: 'file', mode: Number.parseInt(launcher[0]?.flags.chmod ?? '', 8), uid: 0, gid: 0 });
    // A shebang passes everything after the interpreter as one argument: room for exactly one flag.
    expect(RUNTIME_NODE_FLAGS).toHaveLength(1);
    expect(LAUNCHER.split('\n')[0]).toBe(`#!${IMAGE_NODE} ${RUNTIME_NODE_FLAGS[0]}`);
    expect(LAUNCHER).toContain(`import('${IMAGE_MAIN}');`);
  });

  it('run the same Node major version', () => {
    const major = pinnedNodeVersion(REPO_ROOT).split('.')[0];
    expect(major).toBe('24');
    expect(dockerfile.globalArgs.NODE_IMAGE).toMatch(new RegExp(`^node:${major}[-\\w.]*$`));
    expect(dockerfile.globalArgs.RUNTIME_IMAGE).toMatch(new RegExp(`^gcr\\.io/distroless/nodejs${major}-`));
    expect(runtime.from).toBe('${RUNTIME_IMAGE}');
  });

  it('install production dependencies only, from the lock file, without install scripts', () => {
    expect(deps).toBeDefined();
    const depsCopy = deps!.instructions.filter((i) => i.op === 'COPY').map((i) => copyParts(i.args));
    expect(depsCopy.flatMap((c) => c.sources).sort()).toEqual([...DEPENDENCY_SOURCES].sort());
    const install = deps!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(install).toMatch(/npm ci --omit=dev --ignore-scripts/);
    const fromDeps = copies.filter((c) => c.flags.from === 'deps');
    expect(fromDeps.map((c) => [c.sources, resolveIn(IMAGE_WORKDIR, c.dest)])).toEqual([[['/app/node_modules'], `${IMAGE_WORKDIR}/node_modules`]]);
  });

  it('compile src/ in a build stage with the dev dependencies, running the same builder on the same sources', () => {
    expect(build, 'a stage named build').toBeDefined();
    expect(build!.from).toBe('${NODE_IMAGE}');
    expect(only(build!, 'WORKDIR').args).toBe(IMAGE_WORKDIR);
    const buildCopies = build!.instructions.filter((i) => i.op === 'COPY').map((i) => copyParts(i.args));
    // Each source lands at /app/<source>.
    const landed = buildCopies.flatMap((c) => c.sources.map((s) => ({ source: s, at: c.dest.endsWith('/') ? resolveIn(IMAGE_WORKDIR, posix.join(c.dest, posix.basename(s))) : resolveIn(IMAGE_WORKDIR, c.dest) })));
    expect(landed.map((l) => l.source).sort()).toEqual([...BUILD_SOURCES].sort());
    for (const l of landed) expect(l.at).toBe(`${IMAGE_WORKDIR}/${l.source}`);
    const runs = build!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs[0]).toMatch(/npm ci --ignore-scripts/); // with the dev dependencies: TypeScript
    expect(runs[0]).not.toMatch(/--omit/);
    expect(runs.at(-1)).toBe(BUILD_COMMAND);
    // The runtime stage takes the build's output, nothing else of that stage.
    const fromBuild = copies.filter((c) => c.flags.from === 'build');
    expect(fromBuild.map((c) => [c.sources, resolveIn(IMAGE_WORKDIR, c.dest)])).toEqual([[[`${IMAGE_WORKDIR}/${DIST_DIR}`], `${IMAGE_WORKDIR}/${DIST_DIR}`]]);
  });

  it('copy the same checkout paths into /app, all root-owned', () => {
    const fromContext = copies.filter((c) => c.flags.from === undefined && c.heredoc === undefined);
    // Each source lands at /app/<source> (a file into the directory ./, a directory to ./<name>).
    const landed = fromContext.flatMap((c) => c.sources.map((s) => ({ source: s, at: c.dest.endsWith('/') ? resolveIn(IMAGE_WORKDIR, posix.join(c.dest, s)) : resolveIn(IMAGE_WORKDIR, c.dest) })));
    expect(landed.map((l) => l.source).sort()).toEqual([...APP_SOURCES].sort());
    for (const l of landed) expect(l.at).toBe(`${IMAGE_WORKDIR}/${l.source}`);
    for (const c of copies) expect(c.flags.chown, JSON.stringify(c)).toBe('0:0');
    expect(appLayerEntries().every((e) => e.uid === 0 && e.gid === 0)).toBe(true);
  });

  it('hold package.json and the build of the context’s src/ files, nothing more: no TypeScript', () => {
    // Derived here from the build context: each file of src/ that .dockerignore keeps, where the build puts it.
    const filter = readContextFilter(REPO_ROOT);
    const built = srcFiles(REPO_ROOT)
      .filter((p) => filter(p))
      .map((p) => distOutput(p));
    expect(built).not.toContain(null); // .dockerignore keeps only what the build uses (build-context.test.ts)
    const expected = [...APP_SOURCES.filter((p) => filter(p)), ...(built as string[]), `${DIST_DIR}/${BUILD_STAMP}`].map((p) => `app/${p}`).sort();
    const layerFiles = appLayerEntries()
      .filter((e) => e.type !== 'dir' && `/${e.path}` !== LAUNCHER_PATH)
      .map((e) => e.path)
      .sort();
    expect(layerFiles).toEqual(expected);
    expect(layerFiles).toEqual(expect.arrayContaining([`app/${DIST_DIR}/cli/main.js`, `app/${DIST_DIR}/tool-catalogue/tool-images.json`, `app/${DIST_DIR}/console/static/index.html`]));
    expect(layerFiles.filter((p) => /\.[cm]?tsx?$/.test(p))).toEqual([]);
    expect(layerFiles.filter((p) => !p.startsWith(`app/${DIST_DIR}/`) && p !== 'app/package.json')).toEqual([]);
  });
});
