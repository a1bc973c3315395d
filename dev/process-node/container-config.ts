// Translates a container spec into a host process: user, environment, argv, working directory. A kubelet
// mounts volumes at their mountPath; the process node cannot, so every env value or argument that equals or
// starts with a mountPath (or the terminationMessagePath) is rewritten to the host path (documented
// limitation of dev/test mode).
import { join } from 'node:path';
import { resolveFieldPath, FieldRefError } from './downward-api.ts';
import type { PodLayout } from './pod-layout.ts';
import type { ContainerSpec, EnvVar, PodLike } from './pod-types.ts';
import { PodConfigError, NotYetAvailableError, type ConfigMapLike } from './volumes.ts';

export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
/** distroless "nonroot": the user M87's image runs as when a Pod names none. */
export const DEFAULT_RUN_AS_USER = 65532;
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ProcessUser {
  uid: number;
  gid: number;
  groups: number[];
  /** Group owning the Pod's writable volumes (fsGroup, else gid). */
  fsGroup: number;
}

/** The user the container runs as. Root, privileged and host namespaces are refused outright. */
export function resolveUser(pod: PodLike, container: ContainerSpec, field: string): ProcessUser {
  const podSc = pod.spec.securityContext ?? {};
  const sc = container.securityContext ?? {};
  const uid = sc.runAsUser ?? podSc.runAsUser ?? DEFAULT_RUN_AS_USER;
  const gid = sc.runAsGroup ?? podSc.runAsGroup ?? uid;
  const fail = (message: string): never => {
    throw new PodConfigError('CreateContainerConfigError', message);
  };
  if (!Number.isInteger(uid) || uid < 0) fail(`${field}.securityContext.runAsUser: invalid uid ${String(uid)}`);
  if (!Number.isInteger(gid) || gid < 0) fail(`${field}.securityContext.runAsGroup: invalid gid ${String(gid)}`);
  if (uid === 0) fail(`${field}.securityContext.runAsUser: the process node never runs a container as root`);
  if (gid === 0) fail(`${field}.securityContext.runAsGroup: the process node never runs a container with group root`);
  if (sc.privileged === true) fail(`${field}.securityContext.privileged: privileged containers are not supported`);
  if (pod.spec.hostNetwork === true || pod.spec.hostPID === true || pod.spec.hostIPC === true) {
    fail('spec.hostNetwork/hostPID/hostIPC: host namespaces are not supported by the process node');
  }
  const fsGroup = podSc.fsGroup ?? gid;
  const groups = [...new Set([gid, ...(podSc.fsGroup !== undefined ? [podSc.fsGroup] : []), ...(podSc.supplementalGroups ?? [])])];
  if (groups.includes(0)) fail('spec.securityContext: group 0 is not allowed');
  return { uid, gid, groups, fsGroup };
}

/** mountPath (and terminationMessagePath) → host path, longest first so nested mounts win. */
export function pathRewrites(
  container: ContainerSpec,
  volumeDirs: ReadonlyMap<string, string>,
  terminationLogHost: string,
  field: string,
): [string, string][] {
  const rewrites: [string, string][] = [];
  for (const [i, mount] of (container.volumeMounts ?? []).entries()) {
    const host = volumeDirs.get(mount.name);
    if (host === undefined) throw new PodConfigError('CreateContainerConfigError', `${field}.volumeMounts[${i}]: volume ${JSON.stringify(mount.name)} not found`);
    if (mount.subPath !== undefined && mount.subPath !== '') {
      throw new PodConfigError('CreateContainerConfigError', `${field}.volumeMounts[${i}].subPath: not supported by the process node`);
    }
    const mountPath = mount.mountPath.replace(/\/+$/, '');
    if (!mountPath.startsWith('/')) throw new PodConfigError('CreateContainerConfigError', `${field}.volumeMounts[${i}].mountPath: must be absolute and not /`);
    rewrites.push([mountPath, host]);
  }
  rewrites.push([container.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH, terminationLogHost]);
  return rewrites.sort((a, b) => b[0].length - a[0].length);
}

export function rewritePath(value: string, rewrites: readonly [string, string][]): string {
  for (const [from, to] of rewrites) {
    if (value === from) return to;
    if (value.startsWith(`${from}/`)) return to + value.slice(from.length);
  }
  return value;
}

/** Kubernetes' $(VAR) expansion: $(NAME) of a defined var is replaced, $$ escapes, anything else stays. */
export function expandVars(value: string, vars: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return vars.get(name) ?? match;
  });
}

export interface EnvContext {
  readonly pod: PodLike;
  readonly podIP: string | undefined;
  readonly apiServer: { host: string; port: number };
  readonly getConfigMap: (name: string) => Promise<ConfigMapLike | undefined>;
}

async function envValue(ctx: EnvContext, env: EnvVar, vars: ReadonlyMap<string, string>, field: string): Promise<string | undefined> {
  if (env.valueFrom === undefined) return expandVars(env.value ?? '', vars);
  const { fieldRef, configMapKeyRef, ...others } = env.valueFrom;
  if (fieldRef !== undefined) {
    try {
      return resolveFieldPath(ctx.pod, fieldRef.fieldPath, ctx.podIP, `${field}.valueFrom.fieldRef`);
    } catch (err) {
      if (err instanceof FieldRefError) throw new PodConfigError('CreateContainerConfigError', err.message);
      throw err;
    }
  }
  if (configMapKeyRef !== undefined) {
    const cm = await ctx.getConfigMap(configMapKeyRef.name);
    const value = cm?.data?.[configMapKeyRef.key];
    if (value === undefined && configMapKeyRef.optional !== true) {
      throw new NotYetAvailableError(`${field}.valueFrom.configMapKeyRef: key ${configMapKeyRef.key} of ConfigMap ${configMapKeyRef.name} not found`);
    }
    return value;
  }
  throw new PodConfigError('CreateContainerConfigError', `${field}.valueFrom: ${Object.keys(others).join(', ') || 'empty source'} is not supported by the process node`);
}

/** The process environment: a clean base (nothing inherited from the node), kubelet's service variables, the container's env. */
export async function buildEnv(ctx: EnvContext, container: ContainerSpec, rewrites: readonly [string, string][], field: string): Promise<Record<string, string>> {
  if ((container.envFrom ?? []).length > 0) throw new PodConfigError('CreateContainerConfigError', `${field}.envFrom: not supported by the process node`);
  const vars = new Map<string, string>([
    ['PATH', DEFAULT_PATH],
    ['HOSTNAME', ctx.pod.metadata.name ?? ''],
    ['KUBERNETES_SERVICE_HOST', ctx.apiServer.host],
    ['KUBERNETES_SERVICE_PORT', String(ctx.apiServer.port)],
    ['KUBERNETES_SERVICE_PORT_HTTPS', String(ctx.apiServer.port)],
  ]);
  for (const [i, env] of (container.env ?? []).entries()) {
    const value = await envValue(ctx, env, vars, `${field}.env[${i}]`);
    if (value !== undefined) vars.set(env.name, value);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of vars) out[k] = rewritePath(v, rewrites);
  return out;
}

/** command and args after $(VAR) expansion against the container's environment (before path rewriting). */
export function expandCommand(container: ContainerSpec, env: Readonly<Record<string, string>>): ContainerSpec {
  const vars = new Map(Object.entries(env));
  const expand = (list: string[] | undefined): string[] | undefined => list?.map((v) => expandVars(v, vars));
  return { ...container, command: expand(container.command), args: expand(container.args) };
}

/** Host working directory: inside a volume it is rewritten; elsewhere it maps into the Pod's read-only rootfs dir. */
export function workingDirectory(container: ContainerSpec, layout: PodLayout, rewrites: readonly [string, string][]): string {
  const dir = container.workingDir ?? '/';
  const rewritten = rewritePath(dir, rewrites);
  return rewritten !== dir ? rewritten : join(layout.rootfs, dir);
}
