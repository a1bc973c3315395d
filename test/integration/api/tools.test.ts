// The Tool kind on the real control plane: the shipped catalogue applies and hashes like the zod-parsed
// one, the API server refuses a tag instead of a digest (and the other CEL rules) naming the field,
// kubectl explain documents the kind, RBAC from the chart lets agents, approvers, viewers and the controller
// read Tools and nobody but admins write them, and `kubectl m87 tools` lists them with the caller's kubeconfig.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, resolveBinary } from '../../../dev/cluster/binaries.ts';
import { GROUP, VERSION } from '../../../src/api/group.ts';
import type { ToolSpecInput } from '../../../src/api/tool.ts';
import { SHIPPED_TOOLS } from '../../../src/tool-catalogue/default-catalogue.ts';
import { toolHash } from '../../../src/tool-catalogue/tool-hash.ts';
import { clusterInfo, expectApiError, waitFor } from '../../support/kube.ts';
import { identityKubeConfigs, type Identity } from '../security/identities.ts';
import { CONTROLLER_SA, installSecurity } from '../security/install.ts';

const security = await installSecurity('tools');
const { admin } = security;
const kc = await identityKubeConfigs({
  controllerNamespace: security.controllerNamespace,
  controllerServiceAccount: CONTROLLER_SA,
  jobNamespace: security.jobNamespace,
});
const api = (k: KubeConfig) => k.makeApiClient(CustomObjectsApi);
const tools = { group: GROUP, version: VERSION, plural: 'tools' };

/** Names unique to this file, so a rerun against an existing cluster never collides. */
const name = (base: string) => `${base}-${security.suffix}`;

function toolObject(objectName: string, spec: ToolSpecInput) {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'Tool', metadata: { name: objectName }, spec };
}

const created: string[] = [];
async function createTool(k: KubeConfig, objectName: string, spec: ToolSpecInput): Promise<unknown> {
  const result: unknown = await api(k).createClusterCustomObject({ ...tools, body: toolObject(objectName, spec) });
  created.push(objectName);
  return result;
}
afterAll(async () => {
  for (const n of created) await api(admin).deleteClusterCustomObject({ ...tools, name: n }).catch(() => undefined);
});

const kubectlCache = mkdtempSync(join(tmpdir(), 'm87-kubectl-cache-'));
afterAll(() => rmSync(kubectlCache, { recursive: true, force: true }));

function kubectl(context: 'admin' | 'alice', args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(resolveBinary('kubectl'), ['--kubeconfig', clusterInfo().kubeconfigPath, '--context', context, '--cache-dir', kubectlCache, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function m87(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

const sample = (): ToolSpecInput => structuredClone(SHIPPED_TOOLS['http-get'] as ToolSpecInput);

beforeAll(async () => {
  // RBAC bindings take effect asynchronously: wait until the agent can list Tools.
  await waitFor(
    async () =>
      api(kc.agent)
        .listClusterCustomObject(tools)
        .then(() => true)
        .catch(() => false),
    { what: 'RBAC for the agent on tools' },
  );
});

describe('the shipped catalogue on the API server', () => {
  it('applies with kubectl, and each stored spec hashes like the zod-parsed one (server and zod defaults agree)', async () => {
    // The shipped names are fixed: give this file's copies its own names.
    const docs = Object.entries(SHIPPED_TOOLS).map(([n, spec]) => toolObject(name(n), spec));
    for (const doc of docs) created.push(doc.metadata.name);
    const manifest = docs.map((d) => JSON.stringify(d)).join('\n---\n');
    const run = spawnSync(resolveBinary('kubectl'), ['--kubeconfig', clusterInfo().kubeconfigPath, '--context', 'admin', '--cache-dir', kubectlCache, 'apply', '-f', '-'], {
      encoding: 'utf8',
      input: manifest,
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    for (const [n, spec] of Object.entries(SHIPPED_TOOLS)) {
      const stored = (await api(admin).getClusterCustomObject({ ...tools, name: name(n) })) as { spec: unknown };
      expect(toolHash(stored.spec), n).toBe(toolHash(spec));
    }
    // The file the chart ships is the same catalogue.
    const shipped = parseAllDocuments(readFileSync(join(REPO_ROOT, 'charts/m87/files/tools.yaml'), 'utf8')).map(
      (d) => d.toJS() as { metadata: { name: string }; spec: unknown },
    );
    expect(shipped.map((d) => [d.metadata.name, toolHash(d.spec)])).toEqual(Object.entries(SHIPPED_TOOLS).map(([n, s]) => [n, toolHash(s)]));
  });
});

describe('the API server refuses invalid Tools, naming the field', () => {
  it.each<[string, (s: ToolSpecInput) => void, RegExp]>([
    ['a tag instead of a digest', (s) => (s.image = 'ghcr.io/m87/m87:0.1.0'), /spec\.image.*pinned by digest/s],
    ['a tag and a digest', (s) => (s.image = `python:3.12@sha256:${'a'.repeat(64)}`), /spec\.image.*pinned by digest/s],
    ['a placeholder naming no argument', (s) => s.argv.push({ arg: 'nope' }), /spec.*every \{arg\} placeholder must name an argument/s],
    ['an item both literal and arg', (s) => (s.argv = [{ literal: 'x' }, { literal: 'x', arg: 'url' }]), /spec\.argv\[1\].*exactly one of literal or arg/s],
    ['a placeholder as the program', (s) => (s.argv = [{ arg: 'url' }]), /spec\.argv.*argv\[0\] must be a literal/s],
    ['a literal with NUL', (s) => (s.argv = [{ literal: 'curl\u0000x' }, { literal: '--' }, { arg: 'url' }]), /spec\.argv\[0\]\.literal.*cannot contain NUL/s],
    ['a string argument without maxLength', (s) => (s.args = { url: { type: 'string', required: true } }), /spec\.args\[url\].*needs maxLength/s],
    ['a writable workspace without write scope', (s) => (s.workspace = { access: 'writable', outputs: [] }), /spec.*writable workspace needs a minWriteScope/s],
    [
      'an output path escaping the workspace',
      (s) => (s.workspace = { access: 'readOnly', outputs: [{ name: 'r', kind: 'file', path: '../x', maxBytes: 1 }] }),
      /spec\.workspace\.outputs\[0\]\.path.*relative to the workspace/s,
    ],
    ['an output over the cap', (s) => (s.workspace = { access: 'readOnly', outputs: [{ name: 'p', kind: 'patch', maxBytes: 2_000_000 }] }), /spec\.workspace\.outputs\[0\]\.maxBytes/s],
    ['an unknown effect', (s) => (s.effects = ['EXFILTRATE' as never]), /spec\.effects\[0\].*Unsupported value/s],
  ])('%s', async (_what, change, message) => {
    const spec = sample();
    change(spec);
    const error = await expectApiError(api(admin).createClusterCustomObject({ ...tools, body: toolObject(name('bad'), spec) }));
    expect(error.code).toBe(422);
    expect(error.message).toMatch(message);
  });

  it('a name that is not a DNS label is refused with the reason', async () => {
    const error = await expectApiError(api(admin).createClusterCustomObject({ ...tools, body: toolObject(`dotted.${name('x')}`, sample()) }));
    expect(error.code).toBe(422);
    expect(error.message).toMatch(/metadata\.name must be a DNS label/);
  });

  it('a secret reference in env is not stored (no valueFrom exists)', async () => {
    const spec = { ...sample(), env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] } as unknown as ToolSpecInput;
    const error = await expectApiError(api(admin).createClusterCustomObject({ ...tools, body: toolObject(name('secret-env'), spec) }));
    expect(error.code).toBe(422);
    expect(error.message).toMatch(/spec\.env\[0\]\.value.*Required value/s);
  });
});

describe('RBAC: admins write Tools; agents, approvers, viewers and the controller read them', () => {
  const readers: Identity[] = ['agent', 'alice', 'viewer', 'controller'];
  let readable: string;
  beforeAll(async () => {
    readable = name('readable');
    await createTool(admin, readable, sample());
  });

  it.each(readers)('%s can get and list Tools', async (who) => {
    const got = (await api(kc[who]).getClusterCustomObject({ ...tools, name: readable })) as { metadata: { name: string } };
    expect(got.metadata.name).toBe(readable);
    const list = (await api(kc[who]).listClusterCustomObject(tools)) as { items: { metadata: { name: string } }[] };
    expect(list.items.map((i) => i.metadata.name)).toContain(readable);
  });

  it.each<Identity>(['agent', 'alice', 'viewer', 'controller', 'editor', 'stranger'])('%s cannot create, update or delete a Tool', async (who) => {
    const create = await expectApiError(api(kc[who]).createClusterCustomObject({ ...tools, body: toolObject(name(`by-${who}`), sample()) }));
    expect(create.code).toBe(403);
    const patch = await expectApiError(
      api(kc[who]).patchClusterCustomObject({ ...tools, name: readable, body: [{ op: 'replace', path: '/spec/timeoutSeconds', value: 3600 }] }),
    );
    expect(patch.code).toBe(403);
    const del = await expectApiError(api(kc[who]).deleteClusterCustomObject({ ...tools, name: readable }));
    expect(del.code).toBe(403);
  });

  it('the stranger and anonymous cannot even read them', async () => {
    expect((await expectApiError(api(kc.stranger).listClusterCustomObject(tools))).code).toBe(403);
    expect([401, 403]).toContain((await expectApiError(api(kc.anonymous).listClusterCustomObject(tools))).code);
  });
});

describe('kubectl', () => {
  it('kubectl explain documents the Tool kind and its fields', () => {
    const kind = kubectl('admin', ['explain', 'tools']);
    expect(kind.stderr).toBe('');
    expect(kind.stdout).toContain('A catalogue tool a governed Job may run');
    const image = kubectl('admin', ['explain', 'tool.spec.image']);
    expect(image.stdout).toContain('pinned by digest');
    const arg = kubectl('admin', ['explain', 'tool.spec.argv.arg']);
    expect(arg.stdout).toContain('becomes this whole argv item');
    const leadingDash = kubectl('admin', ['explain', 'tool.spec.args.allowLeadingDash']);
    expect(leadingDash.status, leadingDash.stderr).toBe(0);
  });

  it('kubectl get tools shows the printer columns, for alice too', () => {
    const run = kubectl('alice', ['get', 'tools', '-o', 'wide']);
    expect(run.stderr).toBe('');
    expect(run.stdout.split('\n')[0]).toMatch(/NAME\s+EFFECTS\s+WRITE-SCOPE\s+NETWORK\s+WORKSPACE\s+IMAGE\s+AGE/);
    expect(run.stdout).toMatch(new RegExp(`${name('readable')}\\s+\\["NETWORK_CALL"\\]\\s+none\\s+true`));
  });
});

describe('kubectl m87 tools', () => {
  it("lists the cluster's Tools with the user's kubeconfig and context, as a table and as JSON", () => {
    const base = ['tools', '--kubeconfig', clusterInfo().kubeconfigPath, '--context', 'alice'];
    const table = m87(base);
    expect(table.stderr).toBe('');
    expect(table.status).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+EFFECTS\s+WRITE SCOPE\s+NETWORK\s+WORKSPACE\s+IMAGE DIGEST\s+TOOL HASH$/);
    const row = table.stdout.split('\n').find((l) => l.startsWith(`${name('readable')} `));
    // The shipped http-get is pinned to its built image: the column shows the digest's first 12 hex digits.
    const digest = /@sha256:([0-9a-f]{12})/.exec(sample().image)![1]!;
    expect(row).toMatch(new RegExp(`NETWORK_CALL\\s+none\\s+yes\\s+none\\s+sha256:${digest}\\s+[0-9a-f]{12}$`));

    const json = m87([...base, '-o', 'json']);
    expect(json.status).toBe(0);
    const listed = JSON.parse(json.stdout) as { name: string; valid: boolean; hash: string }[];
    expect(listed.find((t) => t.name === name('readable'))).toMatchObject({ valid: true, hash: toolHash(sample()) });
  });

  it('fails with the API error for an identity that may not read Tools', () => {
    const dir = mkdtempSync(join(tmpdir(), 'm87-tools-kubeconfig-'));
    try {
      const path = join(dir, 'kubeconfig');
      writeFileSync(path, kc.stranger.exportConfig());
      const r = m87(['tools', '--kubeconfig', path]);
      expect(r.status).toBe(4);
      expect(r.stderr).toMatch(/forbidden/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
