// The chart's values contract: helm lint over the ci/ matrix, values.schema.json rejecting bad values with
// a message that names the key, `additionalProperties: false` everywhere, and every value documented.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { CHART_DIR, ciValuesFiles, helm, helmTemplateRaw, renderChart } from './helm.ts';

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as JsonSchema;

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  definitions?: Record<string, JsonSchema>;
  $ref?: string;
  description?: string;
}

describe('ci values matrix', () => {
  const files = ciValuesFiles();

  it('has at least the default, ha and monitoring cases', () => {
    expect(files.map((f) => basename(f))).toEqual(expect.arrayContaining(['default-values.yaml', 'ha-values.yaml', 'monitoring-values.yaml']));
  });

  it.each(files.map((f) => [basename(f), f]))('%s: helm lint --strict passes', (_name, file) => {
    const r = helm(['lint', '--strict', CHART_DIR, '--values', file]);
    expect(r.stdout + r.stderr, r.stdout + r.stderr).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  it.each(files.map((f) => [basename(f), f]))('%s: helm template renders', (_name, file) => {
    const rendered = renderChart({ valuesFiles: [file] });
    expect(rendered.length).toBeGreaterThan(10);
    for (const { source, object } of rendered) {
      expect(typeof object.apiVersion, source).toBe('string');
      expect(typeof object.kind, source).toBe('string');
      expect(object.metadata.name, source).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }
  });
});

describe('values.schema.json', () => {
  const rejected = (values: unknown): string => {
    const r = helmTemplateRaw({ values });
    expect(r.status, `helm template unexpectedly accepted ${JSON.stringify(values)}`).not.toBe(0);
    return r.stderr;
  };

  it('rejects an unknown key, naming it and where it is', () => {
    const stderr = rejected({ controller: { replicaCount: 2 } });
    expect(stderr).toContain("at '/controller'");
    expect(stderr).toContain("'replicaCount' not allowed");
  });

  it('rejects an unknown top-level key', () => {
    expect(rejected({ replicas: 2 })).toContain("'replicas' not allowed");
  });

  it('rejects an unknown key deep down (a profile name the chart does not ship)', () => {
    const stderr = rejected({ agentProfiles: { profiles: { morgan: { enabled: true, subjects: [] } } } });
    expect(stderr).toContain("at '/agentProfiles/profiles'");
    expect(stderr).toContain("'morgan' not allowed");
  });

  it('rejects a wrong type, naming the key', () => {
    const stderr = rejected({ controller: { replicas: 'two' } });
    expect(stderr).toContain("at '/controller/replicas'");
    expect(stderr).toContain('want integer');
  });

  it('rejects a wrong type inside a security key (issue 7 keys are covered too)', () => {
    const stderr = rejected({ admission: { enabled: 'yes' } });
    expect(stderr).toContain("at '/admission/enabled'");
    expect(stderr).toContain('want boolean');
  });

  it('rejects values outside their enum or pattern', () => {
    expect(rejected({ controller: { logLevel: 'verbose' } })).toContain("at '/controller/logLevel'");
    expect(rejected({ prometheusRule: { alerts: { notLeading: { for: 'soon' } } } })).toContain("at '/prometheusRule/alerts/notLeading/for'");
    expect(rejected({ jobNamespaces: ['Not_A_Namespace'] })).toContain("at '/jobNamespaces/0'");
    expect(rejected({ controller: { image: { digest: 'latest' } } })).toContain("at '/controller/image/digest'");
  });

  it('rejects a label the chart sets itself, naming the value', () => {
    const r = helmTemplateRaw({ values: { commonLabels: { 'app.kubernetes.io/component': 'x' } } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('commonLabels: label "app.kubernetes.io/component" is set by the chart');
  });

  it('refuses several replicas without leader election, and a PodDisruptionBudget that keeps every replica', () => {
    const noElection = helmTemplateRaw({ values: { controller: { replicas: 2, leaderElection: { enabled: false } } } });
    expect(noElection.status).not.toBe(0);
    expect(noElection.stderr).toContain('controller.leaderElection.enabled: must be true with controller.replicas = 2');
    const pdb = helmTemplateRaw({ values: { controller: { replicas: 2, podDisruptionBudget: { minAvailable: 2 } } } });
    expect(pdb.status).not.toBe(0);
    expect(pdb.stderr).toContain('controller.podDisruptionBudget.minAvailable: 2 would keep all 2 replicas');
    expect(helmTemplateRaw({ values: { controller: { replicas: 1, leaderElection: { enabled: false } } } }).status).toBe(0);
  });

  it('has additionalProperties: false on every object with fixed keys, and a typed value schema on every map', () => {
    const problems: string[] = [];
    const visit = (node: JsonSchema, path: string): void => {
      const isObject = node.type === 'object' || node.properties !== undefined;
      if (isObject) {
        if (node.properties !== undefined && node.additionalProperties !== false) problems.push(`${path}: properties without additionalProperties: false`);
        if (node.properties === undefined && (node.additionalProperties === undefined || node.additionalProperties === true)) {
          problems.push(`${path}: an object that accepts anything`);
        }
      }
      for (const [k, v] of Object.entries(node.properties ?? {})) visit(v, `${path}/${k}`);
      if (typeof node.additionalProperties === 'object') visit(node.additionalProperties, `${path}/*`);
      if (node.items) visit(node.items, `${path}[]`);
      node.anyOf?.forEach((s, i) => visit(s, `${path}(anyOf ${i})`));
      node.allOf?.forEach((s, i) => visit(s, `${path}(allOf ${i})`));
      for (const [k, v] of Object.entries(node.definitions ?? {})) visit(v, `#/definitions/${k}`);
    };
    visit(schema, '');
    expect(problems).toEqual([]);
  });

  it('accepts values.yaml itself and the values the security tests pass', () => {
    // dev/security/chart.ts renders the chart with values shaped like these.
    const rendered = renderChart({
      values: {
        controller: { namespace: 'm87-sec', serviceAccount: { create: true, name: 'm87-controller' } },
        agents: { namespaces: ['team-a', { namespace: 'team-b', serviceAccounts: ['agent'], users: ['u'], groups: ['g'] }] },
        jobNamespaces: ['team-a', 'team-b'],
        rbac: { approvers: { groups: ['m87:approvers'], users: [] }, viewers: { groups: [], users: ['v'] } },
        admission: { enabled: true, garbageCollectorUsernames: ['system:serviceaccount:kube-system:generic-garbage-collector'] },
      },
    });
    expect(rendered.some((r) => r.object.kind === 'Deployment')).toBe(true);
  });
});

describe('values.yaml documentation', () => {
  const doc = parseDocument(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8'));

  /** Every key path and whether a `# --` comment documents it or an enclosing key. */
  function undocumented(): string[] {
    const missing: string[] = [];
    const isDoc = (comment: string | null | undefined): boolean => (comment ?? '').split('\n').some((l) => l.trimStart().startsWith('--'));
    const walk = (node: YamlNode | null | undefined, path: string, documented: boolean): void => {
      if (!isMap(node)) return;
      node.items.forEach((pair: Pair, index) => {
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        // The comment of the first key of a map is attached to the map itself by the yaml library.
        const comment = (pair.key as YamlNode & { commentBefore?: string | null }).commentBefore ?? (index === 0 ? node.commentBefore : undefined);
        const here = documented || isDoc(comment);
        const child = pair.value as YamlNode | null;
        const p = path === '' ? key : `${path}.${key}`;
        if (isMap(child) && child.items.length > 0 && !isDoc(comment)) {
          walk(child, p, false);
        } else if (!here && !(isSeq(child) && isDoc(comment))) {
          missing.push(p);
        }
      });
    };
    walk(doc.contents, '', false);
    return missing;
  }

  it('documents every value with a `# --` comment (helm-docs)', () => {
    expect(undocumented()).toEqual([]);
  });

  it('the schema knows every key of values.yaml', () => {
    const values = doc.toJS() as Record<string, unknown>;
    const missing: string[] = [];
    const resolve = (s: JsonSchema): JsonSchema => {
      if (s.$ref !== undefined) return resolve(schema.definitions?.[s.$ref.replace('#/definitions/', '')] ?? {});
      if (s.allOf?.[0]) return { ...resolve(s.allOf[0]), ...s, allOf: undefined };
      return s;
    };
    const walk = (value: unknown, s: JsonSchema, path: string): void => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
      const r = resolve(s);
      if (r.properties === undefined) return; // a map (labels, nodeSelector, …)
      for (const [k, v] of Object.entries(value)) {
        const child = r.properties[k];
        if (child === undefined) missing.push(`${path}${k}`);
        else walk(v, child, `${path}${k}.`);
      }
    };
    walk(values, schema, '');
    expect(missing).toEqual([]);
  });
});
