// The process node's answer to the API server's pods/log: a kubelet-style HTTPS endpoint on loopback,
// GET /containerLogs/<namespace>/<pod>/<container>. Only a client certificate issued by the cluster CA (the
// API server's kubelet client certificate) is served; the serving certificate is the node's own (the API
// server of the local plane does not verify kubelet serving certificates unless it runs with a pod network).
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority } from '../cluster/pki.ts';
import { NODE_HOST_IP } from './pod-status.ts';

export interface LogServer {
  readonly port: number;
  close(): Promise<void>;
}

const PATH = /^\/containerLogs\/([a-z0-9][-a-z0-9]{0,62})\/([a-z0-9][-a-z0-9.]{0,252})\/([a-z0-9][-a-z0-9]{0,62})$/;

export async function startLogServer(opts: {
  /** PEM of the CA whose client certificates may read logs (the cluster CA). */
  clientCaPem: string;
  /** The container's log (stdout, then stderr), or undefined when the node does not know it. */
  readLog(namespace: string, pod: string, container: string): string | undefined;
}): Promise<LogServer> {
  const ca = await createCertificateAuthority('m87-process-node');
  const serving = await ca.issue({ commonName: 'm87-process-node', ipAddresses: [NODE_HOST_IP], usage: 'server' });
  const server: Server = createServer({ key: serving.keyPem, cert: serving.certPem, ca: opts.clientCaPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const match = req.method === 'GET' ? PATH.exec(new URL(req.url ?? '/', 'https://node').pathname) : null;
    const text = match === null ? undefined : opts.readLog(match[1]!, match[2]!, match[3]!);
    if (text === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, NODE_HOST_IP, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
