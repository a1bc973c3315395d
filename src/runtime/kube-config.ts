// Loading a KubeAccess the way kubectl finds credentials, without @kubernetes/client-node on the common
// paths: in-cluster config (the mounted ServiceAccount token, read again as the kubelet rotates it; the
// CA; KUBERNETES_SERVICE_HOST/PORT) and kubeconfig files whose user has static credentials (token, tokenFile,
// client-certificate(-data) and client-key(-data)) and whose cluster has no proxy. Anything else — exec
// plugins, auth providers, basic auth, impersonation, proxy-url, several files in $KUBECONFIG, no file at
// all — is loaded by client-node (a dynamic import, so only those users pay for its ~80 MiB of modules) and
// adapted (kube-access.ts). Errors name the kubeconfig field.
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { createRequire } from 'node:module';
import type { KubeConfig as ClientNodeKubeConfig } from '@kubernetes/client-node';
import type * as Yaml from 'yaml';
import { accessOf, KubeAccess, KubeConfigError, staticCredentials, type Secretish } from './kube-access.ts';

/**
 * The YAML parser, loaded when a kubeconfig file is read: in a cluster the controller reads none, and its
 * modules would stay resident for nothing (a synchronous require, as leanKubeconfig is synchronous).
 */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as typeof Yaml).parse(text);
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface LoadKubeAccessOptions {
  /** An explicit kubeconfig file (--kubeconfig). */
  kubeconfig?: string | undefined;
  /** A context other than the file's current-context (--context). */
  context?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Where the ServiceAccount files are mounted (tests); default SERVICE_ACCOUNT_DIR. */
  serviceAccountDir?: string;
}

/** The result of reading a kubeconfig without client-node: an access, or why client-node must load it. */
export type LeanLoad = { access: KubeAccess } | { needsClientNode: string };

/** In-cluster config: https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, the mounted CA and token. */
export function inClusterAccess(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeConfigError('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
  const source = 'in-cluster config';
  return new KubeAccess(
    staticCredentials({
      source,
      server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`,
      ca: { field: 'ServiceAccount ca.crt', file: join(dir, 'ca.crt') },
      tokenFile: { field: 'ServiceAccount token', file: join(dir, 'token') },
    }),
  );
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The user fields the lean path serves; any other (exec, auth-provider, username, as, …) needs client-node. */
const STATIC_USER_FIELDS = new Set(['token', 'tokenFile', 'token-file', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'extensions']);

function named(list: unknown, kind: string, name: string, file: string): Obj | undefined {
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) throw new KubeConfigError(`kubeconfig ${file}: ${kind}: want a list`);
  const found = list.find((e) => isObj(e) && e.name === name) as Obj | undefined;
  if (found === undefined) return undefined;
  const inner = found[kind.slice(0, -1)];
  if (!isObj(inner)) throw new KubeConfigError(`kubeconfig ${file}: ${kind}[${name}].${kind.slice(0, -1)}: want a mapping`);
  return inner;
}

function str(o: Obj, key: string, field: string, file: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new KubeConfigError(`kubeconfig ${file}: ${field}.${key}: want a string`);
  return v;
}

/** Reads one kubeconfig file; static credentials give an access, anything else says why client-node is needed. */
export function leanKubeconfig(file: string, context?: string): LeanLoad {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new KubeConfigError(`kubeconfig ${file}: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new KubeConfigError(`kubeconfig ${file}: not a kubeconfig (want a mapping)`);
  const base = dirname(file);
  const path = (p: string | undefined): string | undefined => (p === undefined || isAbsolute(p) ? p : join(base, p));
  const contextName = context ?? (typeof doc['current-context'] === 'string' ? doc['current-context'] : undefined);
  if (!contextName) throw new KubeConfigError(`kubeconfig ${file}: current-context: not set (pass --context)`);
  const ctx = named(doc.contexts, 'contexts', contextName, file);
  if (ctx === undefined) throw new KubeConfigError(`kubeconfig ${file}: contexts: no context named ${JSON.stringify(contextName)}${context !== undefined ? ' (--context)' : ' (current-context)'}`);
  const ctxField = `contexts[${contextName}].context`;
  const clusterName = str(ctx, 'cluster', ctxField, file);
  if (clusterName === undefined) throw new KubeConfigError(`kubeconfig ${file}: ${ctxField}.cluster: not set`);
  const cluster = named(doc.clusters, 'clusters', clusterName, file);
  if (cluster === undefined) throw new KubeConfigError(`kubeconfig ${file}: ${ctxField}.cluster: no cluster named ${JSON.stringify(clusterName)}`);
  const cField = `clusters[${clusterName}].cluster`;
  if (cluster['proxy-url'] !== undefined) return { needsClientNode: `${cField}.proxy-url` };
  const userName = str(ctx, 'user', ctxField, file);
  let user: Obj = {};
  if (userName !== undefined) {
    const found = named(doc.users, 'users', userName, file);
    if (found === undefined) throw new KubeConfigError(`kubeconfig ${file}: ${ctxField}.user: no user named ${JSON.stringify(userName)}`);
    user = found;
  }
  const uField = `users[${userName ?? ''}].user`;
  for (const key of Object.keys(user)) if (!STATIC_USER_FIELDS.has(key)) return { needsClientNode: `${uField}.${key}` };
  const server = str(cluster, 'server', cField, file);
  if (server === undefined) throw new KubeConfigError(`kubeconfig ${file}: ${cField}.server: not set`);
  const insecure = cluster['insecure-skip-tls-verify'];
  if (insecure !== undefined && typeof insecure !== 'boolean') throw new KubeConfigError(`kubeconfig ${file}: ${cField}.insecure-skip-tls-verify: want true or false`);
  const secret = (o: Obj, oField: string, key: string): Secretish | undefined => {
    const data = str(o, `${key}-data`, oField, file);
    const f = path(str(o, key, oField, file));
    if (data === undefined && f === undefined) return undefined;
    // As kubectl: the file wins when both are given.
    return f !== undefined ? { field: `${oField}.${key}`, file: f } : { field: `${oField}.${key}-data`, data };
  };
  const token = str(user, 'token', uField, file);
  const tokenFileKey = user.tokenFile !== undefined ? 'tokenFile' : 'token-file';
  const tokenFile = token === undefined ? path(str(user, tokenFileKey, uField, file)) : undefined;
  return {
    access: new KubeAccess(
      staticCredentials({
        source: `kubeconfig ${file} (context ${contextName})`,
        server,
        ca: secret(cluster, cField, 'certificate-authority'),
        cert: secret(user, uField, 'client-certificate'),
        key: secret(user, uField, 'client-key'),
        insecureSkipTlsVerify: insecure === true,
        tlsServerName: str(cluster, 'tls-server-name', cField, file),
        token,
        tokenFile: tokenFile !== undefined ? { field: `${uField}.${tokenFileKey}`, file: tokenFile } : undefined,
      }),
    ),
  };
}

/** Loads through client-node (dynamically imported: only these users load it) and adapts the KubeConfig. */
async function viaClientNode(what: string, reason: string, load: (kc: ClientNodeKubeConfig) => void, context: string | undefined): Promise<KubeAccess> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  load(kc);
  if (context !== undefined) kc.setCurrentContext(context);
  if (kc.getCurrentCluster() === null) throw new KubeConfigError(`${what}: no cluster for context ${JSON.stringify(kc.getCurrentContext())}`);
  const access = accessOf(kc);
  return new KubeAccess({ ...access.credentials, source: `${what} (${reason}: loaded by @kubernetes/client-node)` });
}

async function fromFile(file: string, context: string | undefined): Promise<KubeAccess> {
  const lean = leanKubeconfig(file, context);
  if ('access' in lean) return lean.access;
  return viaClientNode(`kubeconfig ${file}`, lean.needsClientNode, (kc) => kc.loadFromFile(file), context);
}

/**
 * As `m87 controller` finds its credentials: --kubeconfig; else in-cluster when KUBERNETES_SERVICE_HOST is set
 * and $KUBECONFIG is not; else $KUBECONFIG (one file) or ~/.kube/config; else client-node's loadFromDefault.
 */
export async function loadKubeAccess(opts: LoadKubeAccessOptions = {}): Promise<KubeAccess> {
  const env = opts.env ?? process.env;
  if (opts.kubeconfig !== undefined) return fromFile(opts.kubeconfig, opts.context);
  if (env.KUBERNETES_SERVICE_HOST !== undefined && env.KUBECONFIG === undefined) {
    if (opts.context !== undefined) throw new KubeConfigError(`--context ${opts.context}: in-cluster config has no contexts (pass --kubeconfig)`);
    return inClusterAccess(env, opts.serviceAccountDir);
  }
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (files.length === 1 && files[0] !== undefined) return fromFile(files[0], opts.context);
  if (files.length === 0 && existsSync(home)) return fromFile(home, opts.context);
  const reason = files.length > 1 ? 'several files in $KUBECONFIG' : 'no kubeconfig file';
  return viaClientNode('default kubeconfig', reason, (kc) => kc.loadFromDefault(), opts.context);
}
