// A git smart-HTTP server for tests (git's own `git http-backend` behind a small CGI bridge), bound to an
// address this code creates: the host end of a veth pair of its own whose peer is left unused (as
// dev/demo/egress-target.ts does), so process-node Pods in veth mode reach it through their NetworkPolicy
// and nothing ever leaves the machine. Or on 127.0.0.1 when `host` is not given. On the real node it runs
// inside the egress target's network namespace on the node's bridge (startGitHttpServerInNetns).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { hostCommand } from '../process-node/host-exec.ts';
import { onProcessExit } from './processes.ts';

export interface GitHttpServer {
  readonly host: string;
  readonly port: number;
  /** http://host:port/<repo> */
  url(repo: string): string;
  /** Requests served, as "METHOD path". */
  readonly requests: string[];
  stop(): Promise<void>;
}

function serveCgi(projectRoot: string, req: IncomingMessage, res: ServerResponse, requests: string[]): void {
  const url = new URL(req.url ?? '/', 'http://git.invalid');
  requests.push(`${req.method ?? ''} ${url.pathname}`);
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: '/usr/bin:/bin',
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      ...(req.headers['git-protocol'] !== undefined ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      ...(req.headers['content-encoding'] !== undefined ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
      else headers[k] = v;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => {
    if (!headersDone) res.writeHead(500).end();
    else res.end();
  });
}

/**
 * Serves every repository below `projectRoot`; on `host` (an address it puts on a veth of its own, unless
 * `addressExists`: the demo's egress target already holds the Pod pool's reachable address) or 127.0.0.1.
 */
export async function startGitHttpServer(projectRoot: string, opts: { host?: string; addressExists?: boolean } = {}): Promise<GitHttpServer> {
  const host = opts.host ?? '127.0.0.1';
  let removeLink = (): Promise<void> => Promise.resolve();
  if (opts.host !== undefined && opts.addressExists !== true) {
    const link = `m87g${randomBytes(3).toString('hex')}`;
    await hostCommand('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}p`]);
    const onExit = (): void => {
      try {
        execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    };
    process.once('exit', onExit);
    removeLink = async () => {
      process.off('exit', onExit);
      await hostCommand('ip', ['link', 'del', link]).catch(() => undefined);
    };
    await hostCommand('ip', ['-batch', '-'], `addr add ${host}/32 dev ${link}\nlink set ${link} up\n`);
  }
  const requests: string[] = [];
  const server = createServer((req, res) => serveCgi(projectRoot, req, res, requests));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
  } catch (e) {
    await removeLink();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    url: (repo) => `http://${host}:${port}/${repo}`,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await removeLink();
    },
  };
}

const SERVE_ENTRY = fileURLToPath(new URL('./git-http-serve.ts', import.meta.url));

/**
 * The same server as a process inside the network namespace `netns`, bound to `host` there (an address the
 * namespace already has: the real node's egress target, a pod-network endpoint on the node's bridge), so
 * real job Pods reach it across the bridge under their NetworkPolicy as kube-router enforces it, and nothing
 * leaves the machine. The process is stopped by its PID with stop() (or this process's exit).
 */
export async function startGitHttpServerInNetns(projectRoot: string, opts: { netns: string; host: string }): Promise<GitHttpServer> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', opts.netns, process.execPath, SERVE_ENTRY, projectRoot, opts.host], { stdio: ['ignore', 'pipe', 'pipe'] });
  const unregister = onProcessExit(() => child.kill('SIGKILL'));
  const requests: string[] = [];
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the git server in netns ${opts.netns} did not start within 30 s: ${stderr.trim()}`)), 30_000);
      child.once('exit', (code, signal) => reject(new Error(`the git server in netns ${opts.netns} exited (${signal ?? `code ${String(code)}`}): ${stderr.trim()}`)));
      let buffered = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buffered += chunk;
        let i;
        while ((i = buffered.indexOf('\n')) >= 0) {
          const line = JSON.parse(buffered.slice(0, i)) as { listening?: number; request?: string };
          buffered = buffered.slice(i + 1);
          if (line.listening !== undefined) {
            clearTimeout(timer);
            resolve(line.listening);
          } else if (line.request !== undefined) requests.push(line.request);
        }
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    unregister();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    host: opts.host,
    port,
    url: (repo) => `http://${opts.host}:${port}/${repo}`,
    requests,
    stop: () => {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(killer);
        }
        unregister();
      })();
      return stopping;
    },
  };
}

/**
 * A tiny Python project with one failing test (tests/test_calc.py) and one passing smoke test
 * (tests/test_smoke.py), committed; returns the commit id and a patch that fixes the failing one.
 */
export function makePythonRepo(dir: string): { commit: string; fix: string } {
  const git = (...args: string[]): string =>
    execFileSync('git', ['-c', 'user.name=M87 Test', '-c', 'user.email=test@m87.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: dir } }).trim();
  git('init', '-q', '.');
  execFileSync('sh', ['-c', `mkdir -p calc tests && printf 'def add(a, b):\\n    return a - b\\n' > calc/__init__.py && printf 'from calc import add\\n\\n\\ndef test_add():\\n    assert add(2, 3) == 5\\n' > tests/test_calc.py && printf 'import calc\\n\\n\\ndef test_imports():\\n    assert callable(calc.add)\\n' > tests/test_smoke.py && touch tests/__init__.py`], { cwd: dir });
  git('add', '-A');
  git('commit', '-q', '-m', 'calc: add (broken)');
  const commit = git('rev-parse', 'HEAD');
  const fix = ['--- a/calc/__init__.py', '+++ b/calc/__init__.py', '@@ -1,2 +1,2 @@', ' def add(a, b):', '-    return a - b', '+    return a + b', ''].join('\n');
  return { commit, fix };
}
