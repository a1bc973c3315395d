// An HTTP server job Pods can reach (dev/test only). The process node in veth mode lets a Pod send only to
// addresses inside its Pod pool (and then only what the job's NetworkPolicy allows); the node never hands out
// the pool's first host address (base + 1, "slot 0"). We put that address on the host end of a veth pair of
// our own and bind the server to exactly it, so the target exists only because this code created it and no
// packet ever leaves the machine. Every request is recorded, so tests can count what arrived.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostCommand } from '../process-node/host-exec.ts';
import { formatIPv4, parseCidr } from '../process-node/pod-network.ts';
import { onProcessExit } from './processes.ts';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  remoteAddress: string;
}

export interface EgressTarget {
  /** The server's address (the pool's base + 1). */
  readonly host: string;
  readonly port: number;
  /** http://host:port + path */
  url(path?: string): string;
  /** Requests received so far, oldest first. */
  readonly requests: readonly ReceivedRequest[];
  /** The network namespace the server runs in (startBridgeEgressTarget only): other servers can join it. */
  readonly netns?: string;
  stop(): Promise<void>;
}

/** The address the server binds to: the Pod pool's first host address, which the node never allocates. */
export function egressTargetAddress(podCidr: string): string {
  return formatIPv4(parseCidr(podCidr, 'podCidr').base + 1);
}

export async function startEgressTarget(opts: { podCidr: string; port?: number }): Promise<EgressTarget> {
  const host = egressTargetAddress(opts.podCidr);
  // Interface names are at most 15 characters; the random part keeps concurrent runs apart.
  const link = `m87t${randomBytes(3).toString('hex')}`;
  await hostCommand('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`]);
  const unregister = onProcessExit(() => execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' }));
  const removeLink = async (): Promise<void> => {
    unregister();
    await hostCommand('ip', ['link', 'del', link]).catch(() => undefined);
  };
  try {
    await hostCommand('ip', ['-batch', '-'], `addr add ${host}/32 dev ${link}\nlink set ${link} up\n`);
    const target = await serveRecording(host, opts.port ?? 0);
    return { ...target, requests: target.requests, stop: async () => { await target.stop(); await removeLink(); } };
  } catch (err) {
    await removeLink();
    throw err;
  }
}

/**
 * An HTTP server bound to exactly `host` that records every request and answers 200 with a small JSON body.
 * The real node's egress target binds to the host's address on the node's bridge (dev/cluster/real-node).
 */
export async function serveRecording(host: string, port = 0): Promise<EgressTarget> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remoteAddress: req.socket.remoteAddress ?? '',
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, received: requests.length }) + '\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    host,
    port: bound,
    url: (path = '/') => `http://${host}:${bound}${path}`,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The recording server's program, run by Node inside the target's network namespace; one JSON line per request. */
const NAMESPACED_SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    process.stdout.write(JSON.stringify({ method: req.method, path: req.url, headers: req.headers, body, remoteAddress: req.socket.remoteAddress }) + '\\n');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true }) + '\\n');
  });
});
server.listen(0, process.argv[1], () => process.stdout.write(JSON.stringify({ listening: server.address().port }) + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * An HTTP server in a network namespace of our own attached to `bridge` at `address` (an address of the
 * bridge's subnet that no Pod gets): a pod-network endpoint like a Pod, whose requests are recorded. Pods
 * reach it across the bridge, under their NetworkPolicy as kube-router enforces it. The namespace and its
 * veth go with stop() (or this process's exit).
 */
export async function startBridgeEgressTarget(opts: { bridge: string; address: string; prefixLength: number }): Promise<EgressTarget> {
  const name = `m87eg${randomBytes(3).toString('hex')}`;
  const cleanup = (): void => {
    for (const args of [['netns', 'del', name], ['link', 'del', `${name}h`]]) {
      try {
        execFileSync('ip', args, { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  };
  const unregister = onProcessExit(cleanup);
  let child: ChildProcess | undefined;
  try {
    await hostCommand('ip', ['netns', 'add', name]);
    await hostCommand(
      'ip',
      ['-batch', '-'],
      [
        `link add ${name}h type veth peer name ${name}c`,
        `link set ${name}c netns ${name}`,
        `link set ${name}h master ${opts.bridge}`,
        `link set ${name}h up`,
      ].join('\n') + '\n',
    );
    await hostCommand('ip', ['-n', name, '-batch', '-'], `addr add ${opts.address}/${opts.prefixLength} dev ${name}c\nlink set ${name}c up\nlink set lo up\n`);
    const requests: ReceivedRequest[] = [];
    const c = spawn('ip', ['netns', 'exec', name, process.execPath, '-e', NAMESPACED_SERVER, opts.address], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = c;
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      c.once('exit', (code) => reject(new Error(`the egress target's server exited (code ${String(code)})`)));
      c.stdout.setEncoding('utf8');
      c.stdout.on('data', (chunk: string) => {
        buffered += chunk;
        let i;
        while ((i = buffered.indexOf('\n')) >= 0) {
          const line = JSON.parse(buffered.slice(0, i)) as ReceivedRequest & { listening?: number };
          buffered = buffered.slice(i + 1);
          if (line.listening !== undefined) resolve(line.listening);
          else requests.push(line);
        }
      });
    });
    let stopped: Promise<void> | undefined;
    return {
      host: opts.address,
      port,
      url: (path = '/') => `http://${opts.address}:${port}${path}`,
      requests,
      netns: name,
      stop: () => {
        stopped ??= (async () => {
          if (c.exitCode === null && c.signalCode === null) {
            const exited = new Promise((resolve) => c.once('exit', resolve));
            c.kill('SIGTERM');
            await exited;
          }
          cleanup();
          unregister();
        })();
        return stopped;
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    cleanup();
    unregister();
    throw err;
  }
}
