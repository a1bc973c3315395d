// The lean loader: static kubeconfigs and in-cluster config without @kubernetes/client-node, errors that name
// the kubeconfig field, the fallback through client-node for everything else, and the adapter of a
// client-node KubeConfig.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { accessOf, KubeConfigError, TOKEN_FILE_TTL_MS, type KubeAccess } from '../../../src/runtime/kube-access.ts';
import { inClusterAccess, leanKubeconfig, loadKubeAccess } from '../../../src/runtime/kube-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'm87-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
let n = 0;

function kubeconfig(user: Record<string, unknown>, cluster: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  const file = join(dir, `config-${++n}`);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443/', 'certificate-authority-data': Buffer.from(PEM).toString('base64'), ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [
        { name: 'ctx', context: { cluster: 'c', user: 'u' } },
        { name: 'other', context: { cluster: 'missing', user: 'u' } },
      ],
      'current-context': 'ctx',
      ...extra,
    }),
  );
  return file;
}

function lean(file: string, context?: string): KubeAccess {
  const loaded = leanKubeconfig(file, context);
  if (!('access' in loaded)) throw new Error(`needs client-node: ${loaded.needsClientNode}`);
  return loaded.access;
}

async function message(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KubeConfigError);
    return (err as Error).message;
  }
  throw new Error('did not throw');
}

describe('lean kubeconfig loading', () => {
  it('reads a token user: server without trailing slash, the CA, the bearer header', async () => {
    const a = lean(kubeconfig({ token: 'abc' }));
    expect(a.server).toBe('https://127.0.0.1:6443');
    expect((await a.credentials.tls()).ca?.toString()).toBe(PEM);
    expect((await a.credentials.authorize()).headers).toEqual({ Authorization: 'Bearer abc' });
  });

  it('reads client certificate and key files relative to the kubeconfig, and a tokenFile', async () => {
    mkdirSync(join(dir, 'certs'), { recursive: true });
    writeFileSync(join(dir, 'certs', 'c.pem'), 'CERT');
    writeFileSync(join(dir, 'certs', 'k.pem'), 'KEY');
    writeFileSync(join(dir, 'certs', 'token'), 'from-file\n');
    const a = lean(kubeconfig({ 'client-certificate': 'certs/c.pem', 'client-key': 'certs/k.pem', tokenFile: 'certs/token' }, { 'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes' }));
    const tls = await a.credentials.tls();
    expect([tls.cert?.toString(), tls.key?.toString(), tls.rejectUnauthorized, tls.servername]).toEqual(['CERT', 'KEY', false, 'kubernetes']);
    expect((await a.credentials.authorize()).headers).toEqual({ Authorization: 'Bearer from-file' });
  });

  it('takes --context over current-context', () => {
    const file = kubeconfig({ token: 'x' });
    expect(() => lean(file, 'other')).toThrow('contexts[other].context.cluster: no cluster named "missing"');
  });

  it('names the field in errors', async () => {
    expect(await message(() => lean(kubeconfig({ token: 'x' }), 'nope'))).toMatch(/contexts: no context named "nope" \(--context\)$/);
    expect(await message(() => lean(kubeconfig({ token: 'x' }, {}, { 'current-context': '' })))).toMatch(/current-context: not set/);
    expect(await message(() => lean(kubeconfig({ token: 'x' }, { server: '' })))).toMatch(/clusters\[c\]\.cluster\.server: not set$/);
    expect(await message(() => lean(kubeconfig({ 'client-certificate': '/nonexistent/c.pem', 'client-key': '/nonexistent/k.pem' })))).toMatch(
      /users\[u\]\.user\.client-certificate: cannot read \/nonexistent\/c\.pem/,
    );
    expect(await message(() => lean(kubeconfig({ 'client-certificate-data': 'QUJD' })))).toMatch(/users\[u\]\.user\.client-certificate-data: a client certificate needs both/);
    expect(await message(() => lean(kubeconfig({ token: 'x' }, { 'certificate-authority-data': 'not base64!' })))).toMatch(/clusters\[c\]\.cluster\.certificate-authority-data: not base64$/);
    expect(await message(() => lean(kubeconfig({ token: 'x' }, { server: 'http://127.0.0.1:8080' })))).toMatch(/server: http:\/\/ needs insecure-skip-tls-verify/);
    expect(await message(() => lean(kubeconfig({ token: 'x' }, { 'insecure-skip-tls-verify': 'yes' })))).toMatch(/clusters\[c\]\.cluster\.insecure-skip-tls-verify: want true or false/);
  });

  it('leaves exec plugins, auth providers, basic auth, impersonation and proxies to client-node', () => {
    expect(leanKubeconfig(kubeconfig({ exec: { command: 'true', apiVersion: 'client.authentication.k8s.io/v1' } }))).toEqual({ needsClientNode: 'users[u].user.exec' });
    expect(leanKubeconfig(kubeconfig({ 'auth-provider': { name: 'oidc' } }))).toEqual({ needsClientNode: 'users[u].user.auth-provider' });
    expect(leanKubeconfig(kubeconfig({ username: 'a', password: 'b' }))).toEqual({ needsClientNode: 'users[u].user.username' });
    expect(leanKubeconfig(kubeconfig({ token: 'x', as: 'bob' }))).toEqual({ needsClientNode: 'users[u].user.as' });
    expect(leanKubeconfig(kubeconfig({ token: 'x' }, { 'proxy-url': 'http://127.0.0.1:3128' }))).toEqual({ needsClientNode: 'clusters[c].cluster.proxy-url' });
  });

  it('loads those through client-node and asks it for each request’s headers', async () => {
    const file = kubeconfig({ username: 'a', password: 'b' });
    const a = await loadKubeAccess({ kubeconfig: file, env: {} });
    expect(a.source).toContain('users[u].user.username: loaded by @kubernetes/client-node');
    expect(a.server).toBe('https://127.0.0.1:6443');
    expect((await a.credentials.authorize()).headers.Authorization).toBe(`Basic ${Buffer.from('a:b').toString('base64')}`);
  });

  it('finds credentials like the controller: --kubeconfig, in-cluster, then $KUBECONFIG', async () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'ca.crt'), PEM);
    writeFileSync(join(sa, 'token'), 'sa-token');
    const inCluster = await loadKubeAccess({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    expect(inCluster.server).toBe('https://[fd00::1]:443');
    expect((await inCluster.credentials.authorize()).headers).toEqual({ Authorization: 'Bearer sa-token' });
    expect((await inCluster.credentials.tls()).ca?.toString()).toBe(PEM);
    expect(() => inClusterAccess({ KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, join(dir, 'absent'))).toThrow(/ServiceAccount ca\.crt: cannot read/);
    const file = kubeconfig({ token: 'env' });
    const fromEnv = await loadKubeAccess({ env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBECONFIG: file } });
    expect((await fromEnv.credentials.authorize()).headers).toEqual({ Authorization: 'Bearer env' });
    expect(fromEnv.source).toBe(`kubeconfig ${file} (context ctx)`);
  });
});

describe('a rotated ServiceAccount token', () => {
  it('is read again once the last read is a minute old', async () => {
    const sa = join(dir, 'rotating');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'ca.crt'), PEM);
    writeFileSync(join(sa, 'token'), 'first');
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const a = inClusterAccess({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443' }, sa);
      writeFileSync(join(sa, 'token'), 'second');
      expect((await a.credentials.authorize()).headers.Authorization).toBe('Bearer first');
      vi.advanceTimersByTime(TOKEN_FILE_TTL_MS + 1);
      expect((await a.credentials.authorize()).headers.Authorization).toBe('Bearer second');
      // While the kubelet replaces the file, the last token is kept.
      rmSync(join(sa, 'token'));
      vi.advanceTimersByTime(TOKEN_FILE_TTL_MS + 1);
      expect((await a.credentials.authorize()).headers.Authorization).toBe('Bearer second');
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a client-node KubeConfig handed to the runtime', () => {
  it('takes the lean path for static credentials, once per KubeConfig object', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig({ token: 'static' }));
    const a = accessOf(kc);
    expect(accessOf(kc)).toBe(a);
    expect(a.source).toBe('kubeconfig');
    expect((await a.credentials.authorize()).headers).toEqual({ Authorization: 'Bearer static' });
    expect((await a.credentials.tls()).ca?.toString()).toBe(PEM);
  });

  it('asks the KubeConfig itself when it has more than static credentials', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig({ token: 'x', as: 'bob' }));
    const a = accessOf(kc);
    expect(a.source).toContain('@kubernetes/client-node');
    expect((await a.credentials.authorize()).headers).toMatchObject({ Authorization: 'Bearer x', 'Impersonate-User': 'bob' });
  });

  it('fails with the missing current cluster named', () => {
    const kc = new KubeConfig();
    expect(() => accessOf(kc)).toThrow('kubeconfig: no current cluster');
  });
});
