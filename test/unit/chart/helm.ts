// Runs the real helm (and promtool) binaries on charts/m87 for the chart tests, unit and integration.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, resolveBinary } from '../../../dev/cluster/binaries.ts';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'm87');
export const CI_VALUES_DIR = join(CHART_DIR, 'ci');

/** charts/m87/ci/*-values.yaml, the chart-testing matrix. */
export function ciValuesFiles(): string[] {
  return readdirSync(CI_VALUES_DIR)
    .filter((f) => f.endsWith('-values.yaml'))
    .sort()
    .map((f) => join(CI_VALUES_DIR, f));
}

// helm keeps caches and repository config under $HOME by default; keep the tests' out of the user's.
// Removed after each test file (a vitest worker is reused, so its 'exit' comes late or never: that leaked one per file).
const helmHome = mkdtempSync(join(tmpdir(), 'm87-helm-home-'));
afterAll(() => rmSync(helmHome, { recursive: true, force: true }));

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

function run(binary: string, args: readonly string[], input?: string, env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(binary, args, {
    encoding: 'utf8',
    input,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function helm(args: readonly string[], options: { input?: string; kubeconfig?: string } = {}): RunResult {
  return run(resolveBinary('helm'), args, options.input, {
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
    ...(options.kubeconfig !== undefined ? { KUBECONFIG: options.kubeconfig } : {}),
  });
}

export function promtool(args: readonly string[], cwd?: string): RunResult {
  const r = spawnSync(resolveBinary('promtool'), args, { encoding: 'utf8', cwd, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function kubectl(args: readonly string[], options: { input?: string; kubeconfig: string }): RunResult {
  return run(resolveBinary('kubectl'), ['--kubeconfig', options.kubeconfig, ...args], options.input);
}

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface Rendered {
  /** Template path, e.g. templates/manager/deployment.yaml. */
  source: string;
  object: RenderedObject;
}

export interface TemplateOptions {
  valuesFiles?: readonly string[];
  /** Written to a temporary file and passed last (wins). */
  values?: unknown;
  namespace?: string;
  releaseName?: string;
  extraArgs?: readonly string[];
}

/** Writes values to a temporary file, calls fn with its path, removes it. */
export function withValuesFile<T>(values: unknown, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'm87-values-'));
  try {
    const path = join(dir, 'values.json');
    writeFileSync(path, JSON.stringify(values));
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm template` arguments for the options (without the values-file for `values`). */
function templateArgs(options: TemplateOptions, extraValuesFile?: string): string[] {
  const args = ['template', options.releaseName ?? 'm87', CHART_DIR, '--namespace', options.namespace ?? 'm87-system'];
  for (const f of options.valuesFiles ?? []) args.push('--values', f);
  if (extraValuesFile !== undefined) args.push('--values', extraValuesFile);
  args.push(...(options.extraArgs ?? []));
  return args;
}

/** Runs `helm template` and returns the raw result (for tests that expect a failure). */
export function helmTemplateRaw(options: TemplateOptions = {}): RunResult {
  if (options.values === undefined) return helm(templateArgs(options));
  return withValuesFile(options.values, (path) => helm(templateArgs(options, path)));
}

/** Renders the chart; throws with helm's message when it fails. */
export function renderChart(options: TemplateOptions = {}): Rendered[] {
  const r = helmTemplateRaw(options);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr.trim()}`);
  return parseRendered(r.stdout);
}

export function parseRendered(output: string): Rendered[] {
  const out: Rendered[] = [];
  for (const chunk of output.split(/^---\s*$/m)) {
    if (chunk.trim() === '') continue;
    const source = /^# Source: [^/]+\/(\S+)$/m.exec(chunk)?.[1];
    if (source === undefined) throw new Error(`a rendered document has no "# Source:" line: ${chunk.slice(0, 200)}`);
    for (const doc of parseAllDocuments(chunk)) {
      if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const object = doc.toJS() as RenderedObject | null;
      if (object === null) continue;
      out.push({ source, object });
    }
  }
  return out;
}

export function findObject(rendered: readonly Rendered[], kind: string, name: string): RenderedObject {
  const found = rendered.filter((r) => r.object.kind === kind && r.object.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0]!.object;
}

export function objectsOfKind(rendered: readonly Rendered[], kind: string): RenderedObject[] {
  return rendered.filter((r) => r.object.kind === kind).map((r) => r.object);
}
