// Renders the security part of the Helm chart (templates/rbac, templates/admission, templates/namespaces)
// with the real helm binary, so tests, the demo and the docs apply exactly what the chart ships.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { readVersions, REPO_ROOT, resolveBinary } from '../cluster/binaries.ts';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'm87');

/** The chart's template directories this module renders (the rest of the chart is somebody else's). */
export const SECURITY_TEMPLATE_DIRS = ['rbac', 'admission', 'namespaces'] as const;

/** Agents of one namespace: every ServiceAccount there (a string) or exactly the listed subjects. */
export type AgentNamespace =
  | string
  | { namespace: string; serviceAccounts?: string[]; users?: string[]; groups?: string[] };

/** The chart values the security templates read (charts/m87/values.yaml documents each). */
export interface SecurityValues {
  controller?: { namespace?: string; serviceAccount?: { create?: boolean; name?: string } };
  rbac?: {
    approvers?: { groups?: string[]; users?: string[] };
    viewers?: { groups?: string[]; users?: string[] };
    toolAdmins?: { groups?: string[]; users?: string[] };
  };
  agents?: { namespaces?: AgentNamespace[] };
  jobNamespaces?: string[];
  admission?: { enabled?: boolean; fillSubmittedBy?: boolean; garbageCollectorUsernames?: string[] };
  signing?: { existingSecret?: string };
  governancePolicy?: { challengeSecret?: { name?: string; key?: string } };
}

export interface RenderOptions {
  /** Helm release name; default "m87". */
  releaseName?: string;
  /** Release namespace (the controller's namespace unless values.controller.namespace says otherwise). */
  namespace: string;
  values?: SecurityValues;
  /** helm binary; default resolved like the other cluster binaries (hack/versions.env, ~/.cache/m87). */
  helm?: string;
  chartDir?: string;
  /** Kubernetes version helm renders for (the chart's kubeVersion constraint); default hack/versions.env's. */
  kubeVersion?: string;
}

/** A rendered manifest: a Kubernetes object plus the chart template it came from. */
export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
  /** Not part of the object: the template path, e.g. "templates/rbac/clusterrole-agent.yaml". */
  readonly source?: string;
}

const SOURCE_LINE = /^# Source: [^/]+\/(templates\/\S+)$/m;

function isSecuritySource(source: string): boolean {
  return SECURITY_TEMPLATE_DIRS.some((dir) => source.startsWith(`templates/${dir}/`));
}

/**
 * Splits `helm template` output into objects, keeping only documents from the security template
 * directories. A document without a `# Source:` line, or one that is not an object with apiVersion, kind
 * and metadata.name, is an error (the chart must render exactly what it says).
 */
export function parseRendered(output: string): RenderedObject[] {
  const objects: RenderedObject[] = [];
  for (const chunk of output.split(/^---\s*$/m)) {
    if (chunk.trim() === '') continue;
    const source = SOURCE_LINE.exec(chunk)?.[1];
    if (source === undefined) throw new Error(`helm template output has a document without a "# Source:" line: ${chunk.slice(0, 200)}`);
    if (!isSecuritySource(source)) continue;
    const docs = parseAllDocuments(chunk);
    for (const doc of docs) {
      if (doc.errors.length > 0) throw new Error(`${source}: invalid YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      const obj = value as Partial<RenderedObject>;
      if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
        throw new Error(`${source}: rendered a document without apiVersion, kind or metadata.name`);
      }
      Object.defineProperty(obj, 'source', { value: source, enumerable: false });
      objects.push(obj as RenderedObject);
    }
  }
  return objects;
}

/** Runs `helm template` on the chart and returns the security objects it renders. */
export function renderSecurityManifests(options: RenderOptions): RenderedObject[] {
  const helm = options.helm ?? resolveBinary('helm');
  const dir = mkdtempSync(join(tmpdir(), 'm87-values-'));
  try {
    const valuesFile = join(dir, 'values.json');
    writeFileSync(valuesFile, JSON.stringify(options.values ?? {}));
    const output = execFileSync(
      helm,
      [
        'template',
        options.releaseName ?? 'm87',
        options.chartDir ?? CHART_DIR,
        '--namespace',
        options.namespace,
        '--kube-version',
        options.kubeVersion ?? readVersions().kubernetes,
        '--values',
        valuesFile,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 },
    );
    return parseRendered(output);
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    if (typeof stderr === 'string' && stderr !== '') throw new Error(`helm template failed: ${stderr.trim()}`, { cause: error });
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The username the admission policies trust as the controller, for the given values. */
export function controllerUsername(releaseNamespace: string, values: SecurityValues = {}): string {
  const namespace = values.controller?.namespace !== undefined && values.controller.namespace !== '' ? values.controller.namespace : releaseNamespace;
  const name = values.controller?.serviceAccount?.name ?? 'm87-controller';
  return `system:serviceaccount:${namespace}:${name}`;
}
