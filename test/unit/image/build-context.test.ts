// The image's file set comes from the build context (.dockerignore, read by `docker build` and by the offline
// build in dev/image) through the build (dev/build/compile.ts, src/ → dist/): every module `m87` can load must
// be in it and need only production dependencies (the image runs `npm ci --omit=dev`), the context must hold
// exactly the files of src/ the build uses and what the build reads, and development and test support must
// stay out. dockerfile.test.ts checks that the Dockerfile and the offline build describe the same image.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILD_SOURCES, distOutput, srcFiles } from '../../../dev/build/compile.ts';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';
import { dockerignoreFilter, readContextFilter } from '../../../dev/image/context.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

const inBuildContext = readContextFilter(REPO_ROOT);

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;

/** Every file reachable by static and dynamic imports from entry, and every package it imports. */
function importClosure(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3] ?? '';
      if (m[0].includes('import type') || /export\s+type\s/.test(m[0])) continue;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec);
        if (!existsSync(target)) throw new Error(`${relative(REPO_ROOT, file)} imports ${spec}, which does not exist`);
        queue.push(target);
      } else if (spec.startsWith('node:') || builtinModules.includes(spec)) {
        continue;
      } else {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec));
      }
    }
  }
  return { files: [...files].map((f) => relative(REPO_ROOT, f)).sort(), packages: [...packages].sort() };
}

describe('container image', () => {
  const closure = importClosure(join(REPO_ROOT, 'src', 'cli', 'main.ts'));

  it('loads every command module (controller, runner, kubectl plugin commands)', () => {
    for (const f of ['src/cli/controller-command.ts', 'src/cli/runner-command.ts', 'src/controller/start.ts', 'src/runner/runner.ts']) {
      expect(closure.files).toContain(f);
    }
  });

  it('has every module m87 can load in the build context', () => {
    expect(closure.files.filter((f) => !inBuildContext(f))).toEqual([]);
    expect(inBuildContext('package.json')).toBe(true);
    expect(inBuildContext('package-lock.json')).toBe(true);
  });

  it('holds what the build reads, and exactly the files of src/ the build uses (compiles or copies)', () => {
    for (const source of BUILD_SOURCES) expect(inBuildContext(source === 'src' ? 'src/cli/main.ts' : source), source).toBe(true);
    for (const f of srcFiles(REPO_ROOT)) expect(inBuildContext(f), f).toBe(distOutput(f) !== null);
    // The rule for files the checkout has none of right now: tests and dotfiles stay out of both.
    for (const f of ['src/x/a.test.ts', 'src/x/.DS_Store', 'src/.hidden/a.ts', 'src/x/a.ts', 'src/x/static/a.css']) expect(inBuildContext(f), f).toBe(distOutput(f) !== null);
    expect(distOutput('src/x/a.ts')).toBe('dist/x/a.js');
    expect(distOutput('src/x/a.test.ts')).toBeNull();
  });

  it('leaves tests, dev tooling and dev-only modules out of the build context', () => {
    for (const p of ['test/unit/chart/image.test.ts', 'node_modules/zod/package.json', 'hack/env.sh', 'dev/cluster/plane.ts', 'dev/build/ensure.ts', 'dev/process-node/process-node.ts', 'dev/demo/stack.ts', 'charts/m87/values.yaml', 'dist/cli/main.js', '.git/HEAD']) {
      expect(inBuildContext(p), p).toBe(false);
    }
  });

  it('needs only production dependencies', () => {
    expect(closure.packages).toEqual(expect.arrayContaining(['@kubernetes/client-node', 'pino', 'prom-client', 'zod']));
    expect(closure.packages.filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  it('keeps the pod contract: step Pods run `m87 install-runner` and `m87 runner` from this image', () => {
    const source = readFileSync(join(REPO_ROOT, 'src', 'controller', 'job-pod.ts'), 'utf8');
    expect(source).toContain("container(INSTALL_CONTAINER, job.envelope.image, ['m87', 'install-runner'");
    expect(source).toContain("container(RUNNER_CONTAINER, job.envelope.image, ['m87', 'runner']");
  });
});

describe('.dockerignore semantics', () => {
  const filter = dockerignoreFilter(['# comment', '*', '!package.json', '!src/', '**/*.test.ts', 'src/secret?.ts', '!src/keep/**', ''].join('\n'));

  it('lets the last matching pattern win and a directory pattern cover everything below it', () => {
    expect(filter('package.json')).toBe(true);
    expect(filter('README.md')).toBe(false);
    expect(filter('src/a.ts')).toBe(true);
    expect(filter('src/deep/er/a.ts')).toBe(true);
    expect(filter('dev/a.ts')).toBe(false);
    expect(filter('src/deep/a.test.ts')).toBe(false);
    expect(filter('src/secret1.ts')).toBe(false);
    expect(filter('src/secret12.ts')).toBe(true);
    expect(filter('src/keep/x/a.test.ts')).toBe(true);
  });
});
