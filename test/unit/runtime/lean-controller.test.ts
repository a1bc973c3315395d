// The controller process must not load @kubernetes/client-node on the lean path (static kubeconfig or
// in-cluster config): its module graph costs ~80 MiB RSS. A child process started as the image starts Node
// (the compiled code in dist/, type stripping off) imports the controller entry and everything it imports
// (dist/cli/controller-command.js → dist/controller/start.js → dist/controller/*, dist/runtime/*), loads a
// kubeconfig the way `m87 controller` does and sends a request through the runtime,
// with a module hook recording every module loaded. An exec-plugin kubeconfig is the control: there the
// fallback must load client-node, so the check can fail.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RUNTIME_NODE_FLAGS } from '../../../dev/build/compile.ts';
import { ensureDist } from '../../../dev/build/ensure.ts';

const ROOT = join(import.meta.dirname, '../../..');
const dir = mkdtempSync(join(tmpdir(), 'm87-lean-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHILD = `
import { registerHooks } from 'node:module';
const loaded = new Set();
registerHooks({ load(url, context, next) { loaded.add(url); return next(url, context); } });
const root = ${JSON.stringify(pathToFileURL(ROOT).href)} + '/';
await import(root + 'dist/cli/controller-command.js');
await import(root + 'dist/controller/start.js');
await import(root + 'dist/controller/index.js');
const { loadKubeAccess } = await import(root + 'dist/runtime/kube-config.js');
const { kubeRequest } = await import(root + 'dist/runtime/kube-http.js');
const access = await loadKubeAccess({ kubeconfig: process.argv[1] });
const answer = await kubeRequest(access, { method: 'GET', path: '/version' });
const clientNode = [...loaded].filter((u) => u.includes('/node_modules/@kubernetes/client-node/'));
const ours = [...loaded].filter((u) => u.startsWith(root + 'dist/'));
process.stdout.write(JSON.stringify({ answer, clientNode: clientNode.length, ours: ours.length }));
`;

function kubeconfig(server: string, user: Record<string, unknown>): string {
  const file = join(dir, `config-${Object.keys(user).join('-')}`);
  writeFileSync(
    file,
    stringify({
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return file;
}

function runChild(file: string): Promise<{ answer: unknown; clientNode: number; ours: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...RUNTIME_NODE_FLAGS, '--input-type=module', '-e', CHILD, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { answer: unknown; clientNode: number; ours: number }) : reject(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('the controller process on the lean path', () => {
  beforeAll(() => ensureDist(ROOT), 180_000);

  it('loads no module of @kubernetes/client-node for a static kubeconfig; an exec plugin does', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const lean = await runChild(kubeconfig(url, { token: 'lean' }));
      expect(lean.answer).toEqual({ auth: 'Bearer lean' });
      expect(lean.ours).toBeGreaterThan(50); // the controller's whole graph was loaded
      expect(lean.clientNode).toBe(0);

      // The exec plugin prints an ExecCredential (a node one-liner: no shell, no network).
      const credential = JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'from-exec' } });
      const exec = { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`], interactiveMode: 'Never' };
      const fallback = await runChild(kubeconfig(url, { exec }));
      expect(fallback.answer).toEqual({ auth: 'Bearer from-exec' });
      expect(fallback.clientNode).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);
});
