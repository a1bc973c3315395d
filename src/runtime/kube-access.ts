// How the runtime reaches one API server as one identity: the server URL, the TLS material for a connection
// pool (connection-pool.ts) and the headers of each request (Authorization). The runtime's own type, so the
// controller process never needs @kubernetes/client-node (its module graph costs ~80 MiB RSS, its undici
// fetch ~30 % of the controller's CPU): kube-config.ts loads static kubeconfigs and in-cluster config into a
// KubeAccess. Everything else in the repository may keep handing the runtime a client-node KubeConfig (the
// CLI, the client library, dev/ and tests): accessOf() adapts it — static credentials take the same lean path,
// anything else (exec plugins, auth providers, proxies, basic auth, impersonation) asks the KubeConfig for its
// options on every request (applyToHTTPSOptions), so those users keep working.
import { readFileSync } from 'node:fs';
import type { Agent as HttpAgent, RequestOptions } from 'node:http';

/** TLS material for a connection pool. */
export interface TlsMaterial {
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /** false: insecure-skip-tls-verify. */
  rejectUnauthorized?: boolean | undefined;
  servername?: string | undefined;
}

/** What one request needs besides the pool: its headers, and an agent when the credentials bring their own (a proxy). */
export interface Authorization {
  headers: Record<string, string>;
  agent?: HttpAgent | undefined;
}

export interface AccessCredentials {
  /** For messages: "kubeconfig /path (context admin)", "in-cluster ServiceAccount". */
  readonly source: string;
  /** API server base URL without a trailing slash. */
  server(): string;
  /** TLS material for a new pool; read again when the pool is renewed (rotated client certificates). */
  tls(): TlsMaterial | Promise<TlsMaterial>;
  /** Per request (implementations cache what is expensive). */
  authorize(): Authorization | Promise<Authorization>;
}

/** One API server as one identity. Connections are pooled per KubeAccess object (connection-pool.ts). */
export class KubeAccess {
  readonly credentials: AccessCredentials;

  constructor(credentials: AccessCredentials) {
    this.credentials = credentials;
  }

  get server(): string {
    return this.credentials.server();
  }

  get source(): string {
    return this.credentials.source;
  }
}

// The parts of a client-node KubeConfig (and its Cluster and User) the adapter reads, structurally, so that
// neither the runtime nor its callers' types load client-node.
export interface ClusterLike {
  readonly server: string;
  readonly caData?: string | null | undefined;
  readonly caFile?: string | null | undefined;
  readonly skipTLSVerify?: boolean | null | undefined;
  readonly tlsServerName?: string | null | undefined;
  readonly proxyUrl?: string | null | undefined;
}

export interface UserLike {
  readonly token?: string | null | undefined;
  readonly certData?: string | null | undefined;
  readonly certFile?: string | null | undefined;
  readonly keyData?: string | null | undefined;
  readonly keyFile?: string | null | undefined;
  readonly authProvider?: unknown;
  readonly exec?: unknown;
  readonly username?: string | null | undefined;
  readonly password?: string | null | undefined;
  readonly impersonateUser?: string | null | undefined;
}

export interface KubeConfigLike {
  getCurrentCluster(): ClusterLike | null;
  getCurrentUser(): UserLike | null;
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

/** What the runtime accepts wherever it talks to the API server. */
export type KubeClient = KubeAccess | KubeConfigLike;

/** A credential value: inline (base64 `-data`) or a file read when needed; `field` names it in errors. */
export interface Secretish {
  readonly field: string;
  readonly data?: string | undefined;
  readonly file?: string | undefined;
}

export interface StaticCredentialsSpec {
  source: string;
  server: string;
  ca?: Secretish | undefined;
  cert?: Secretish | undefined;
  key?: Secretish | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  tlsServerName?: string | undefined;
  token?: string | undefined;
  /** Read again at most every TOKEN_FILE_TTL_MS: a projected ServiceAccount token is rotated by the kubelet. */
  tokenFile?: Secretish | undefined;
}

/** How long a token read from a file is used before it is read again (client-go: one minute). */
export const TOKEN_FILE_TTL_MS = 60_000;

/** An error in the credentials (a kubeconfig field that cannot be used); the message names the field. */
export class KubeConfigError extends Error {
  override name = 'KubeConfigError';
}

function readSecret(s: Secretish, source: string): Buffer | undefined {
  if (s.file !== undefined && s.file !== '') {
    try {
      return readFileSync(s.file);
    } catch (err) {
      throw new KubeConfigError(`${source}: ${s.field}: cannot read ${s.file}: ${(err as Error).message}`);
    }
  }
  if (s.data !== undefined && s.data !== '') {
    const compact = s.data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new KubeConfigError(`${source}: ${s.field}: not base64`);
    return Buffer.from(compact, 'base64');
  }
  return undefined;
}

/** Credentials that do not change while the process runs, except files read again (token file, rotated certs). */
export function staticCredentials(spec: StaticCredentialsSpec): AccessCredentials {
  let server: URL;
  try {
    server = new URL(spec.server);
  } catch {
    throw new KubeConfigError(`${spec.source}: server: not a URL: ${JSON.stringify(spec.server)}`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') {
    throw new KubeConfigError(`${spec.source}: server: want an https:// URL, got ${JSON.stringify(spec.server)}`);
  }
  if (server.protocol === 'http:' && spec.insecureSkipTlsVerify !== true) {
    // As client-node: plain HTTP only when the kubeconfig says TLS may be skipped.
    throw new KubeConfigError(`${spec.source}: server: http:// needs insecure-skip-tls-verify: true`);
  }
  if ((spec.cert === undefined) !== (spec.key === undefined)) {
    const given = (spec.cert ?? spec.key)?.field ?? 'client-certificate';
    throw new KubeConfigError(`${spec.source}: ${given}: a client certificate needs both client-certificate and client-key`);
  }
  const base = spec.server.replace(/\/+$/, '');
  const tls = (): TlsMaterial => ({
    ca: spec.ca ? readSecret(spec.ca, spec.source) : undefined,
    cert: spec.cert ? readSecret(spec.cert, spec.source) : undefined,
    key: spec.key ? readSecret(spec.key, spec.source) : undefined,
    ...(spec.insecureSkipTlsVerify === true ? { rejectUnauthorized: false } : {}),
    ...(spec.tlsServerName ? { servername: spec.tlsServerName } : {}),
  });
  // Read everything once now, so a broken file fails at start-up with its field named, not at the first request.
  tls();
  let authorization: Authorization = { headers: spec.token ? { Authorization: `Bearer ${spec.token.trim()}` } : {} };
  let tokenReadAt = -Infinity;
  const tokenFile = spec.tokenFile;
  const readToken = (): void => {
    if (tokenFile === undefined) return;
    const token = readSecret(tokenFile, spec.source)?.toString('utf8').trim();
    if (!token) throw new KubeConfigError(`${spec.source}: ${tokenFile.field}: ${tokenFile.file ?? ''} is empty`);
    authorization = { headers: { Authorization: `Bearer ${token}` } };
    tokenReadAt = performance.now();
  };
  readToken();
  return {
    source: spec.source,
    server: () => base,
    tls,
    authorize: () => {
      if (tokenFile !== undefined && performance.now() - tokenReadAt > TOKEN_FILE_TTL_MS) {
        try {
          readToken();
        } catch (err) {
          // Keep the last token while the file is being replaced; fail only once it is surely stale.
          if (performance.now() - tokenReadAt > 10 * TOKEN_FILE_TTL_MS) throw err;
        }
      }
      return authorization;
    },
  };
}

/** Whether the user and cluster use nothing but static credentials (the lean path can serve them alone). */
function isStatic(cluster: ClusterLike, user: UserLike | null): boolean {
  if (cluster.proxyUrl) return false;
  if (user === null) return true;
  return !user.authProvider && !user.exec && !user.username && !user.password && !user.impersonateUser;
}

function credentialsOfKubeConfig(kc: KubeConfigLike): AccessCredentials {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new KubeConfigError('kubeconfig: no current cluster (current-context unset or unknown)');
  const user = kc.getCurrentUser();
  if (isStatic(cluster, user)) {
    const secret = (field: string, data: string | null | undefined, file: string | null | undefined): Secretish | undefined =>
      data || file ? { field, ...(data ? { data } : {}), ...(file ? { file } : {}) } : undefined;
    return staticCredentials({
      source: 'kubeconfig',
      server: cluster.server,
      ca: secret('certificate-authority', cluster.caData, cluster.caFile),
      cert: secret('client-certificate', user?.certData, user?.certFile),
      key: secret('client-key', user?.keyData, user?.keyFile),
      insecureSkipTlsVerify: cluster.skipTLSVerify === true,
      tlsServerName: cluster.tlsServerName ?? undefined,
      token: user?.token ?? undefined,
    });
  }
  // Exec plugins, auth providers, proxies, basic auth, impersonation: the KubeConfig computes the options of
  // every request itself (it caches plugin tokens and its proxy agents).
  const options = async (): Promise<RequestOptions> => {
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    return opts;
  };
  const asBuffer = (v: unknown): Buffer | undefined => (Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : undefined);
  return {
    source: 'kubeconfig (through @kubernetes/client-node)',
    server: () => {
      const current = kc.getCurrentCluster();
      if (current === null) throw new KubeConfigError('kubeconfig: no current cluster (current-context unset or unknown)');
      return current.server.replace(/\/+$/, '');
    },
    tls: async () => {
      const o = (await options()) as RequestOptions & { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean; servername?: string };
      return { ca: asBuffer(o.ca), cert: asBuffer(o.cert), key: asBuffer(o.key), rejectUnauthorized: o.rejectUnauthorized, servername: o.servername };
    },
    authorize: async () => {
      const o = await options();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      if (o.auth) headers.Authorization = `Basic ${Buffer.from(o.auth).toString('base64')}`;
      // Its own agent only for a proxy; otherwise our pool (client-node's agent does not keep connections alive).
      return { headers, agent: cluster.proxyUrl && typeof o.agent === 'object' ? o.agent : undefined };
    },
  };
}

const adapted = new WeakMap<object, KubeAccess>();

/** The KubeAccess for a client: itself, or (once per KubeConfig object) the adapter of a client-node KubeConfig. */
export function accessOf(client: KubeClient): KubeAccess {
  if (client instanceof KubeAccess) return client;
  let access = adapted.get(client);
  if (access === undefined) {
    access = new KubeAccess(credentialsOfKubeConfig(client));
    adapted.set(client, access);
  }
  return access;
}
