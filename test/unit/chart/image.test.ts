// The container image cannot be built here (no container engine), so this checks what can be checked
// without building it: every module `m87` can load is in the build context (.dockerignore) and needs only
// production dependencies (the image runs `npm ci --omit=dev`), and the Dockerfile keeps the pod contract
// (`m87` on PATH for `command: ["m87", "runner"]`, UID 65532, Node 24).
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../dev/cluster/binaries.ts';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** .dockerignore semantics for the patterns used there: last matching pattern wins; a match on a directory covers its contents. */
function inBuildContext(path: string): boolean {
  const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const toRegex = (p: string): RegExp =>
    new RegExp(
      '^' +
        p
          .replace(/\/$/, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '\u0000')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')
          .replaceAll('\u0000', '(?:.*/)?') +
        '$',
    );
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let included = true;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = toRegex(negate ? raw.slice(1) : raw);
    if (prefixes.some((p) => re.test(p))) included = negate;
  }
  return included;
}

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

  it('leaves tests, dev tooling and dev-only modules out of the build context', () => {
    for (const p of ['test/unit/chart/image.test.ts', 'node_modules/zod/package.json', 'hack/env.sh', 'dev/cluster/plane.ts', 'dev/process-node/process-node.ts', 'dev/demo/stack.ts', 'charts/m87/values.yaml', '.git/HEAD']) {
      expect(inBuildContext(p), p).toBe(false);
    }
  });

  it('needs only production dependencies', () => {
    expect(closure.packages).toEqual(expect.arrayContaining(['@kubernetes/client-node', 'pino', 'prom-client', 'express']));
    expect(closure.packages.filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  it('keeps the pod contract and runs Node 24 as UID 65532 without a build step', () => {
    expect(readFileSync(join(REPO_ROOT, 'src', 'controller', 'job-pod.ts'), 'utf8')).toContain("command: ['m87', 'runner']");
    expect(dockerfile).toMatch(/COPY [^\n]*<<'LAUNCHER' \/usr\/local\/bin\/m87\n#!\/nodejs\/bin\/node --disable-warning=ExperimentalWarning\nimport\('\/app\/src\/cli\/main\.ts'\);\nLAUNCHER/);
    expect(dockerfile).toMatch(/ENV [^\n]*\n?\s*PATH=\/nodejs\/bin:\/usr\/local\/bin/);
    expect(dockerfile).toContain('ENTRYPOINT ["/nodejs/bin/node", "--disable-warning=ExperimentalWarning", "/app/src/cli/main.ts"]');
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/ARG NODE_IMAGE=node:24[-\w]*\n/);
    expect(dockerfile).toMatch(/ARG RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs24-/);
    expect(dockerfile).not.toMatch(/\btsc\b|npm run build/);
  });
});
