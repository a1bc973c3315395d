// Describes "which API resource" without discovery: callers name group/version/plural explicitly, so the
// runtime never guesses a plural from a kind.

export interface ResourceType {
  /** API group; '' for the core group (ConfigMaps, Pods, …). */
  readonly group: string;
  readonly version: string;
  /** Lower-case plural resource name as used in URLs, e.g. 'configmaps', 'leases'. */
  readonly plural: string;
  readonly namespaced: boolean;
  /** Kind, used only for log and error messages. */
  readonly kind?: string;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
    blockOwnerDeletion?: boolean;
  }[];
  [field: string]: unknown;
}

/** Any Kubernetes object as JSON. Objects handed out by the runtime's cache are deeply frozen. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Label value used for metrics and logs: 'configmaps' or 'proposals.m87.dev' (bounded by the code). */
export function resourceLabel(resource: ResourceType): string {
  return resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`;
}

function segment(value: string, field: string): string {
  if (value === '' || value.includes('/') || value === '.' || value === '..') {
    throw new Error(`invalid ${field} ${JSON.stringify(value)}: must be a non-empty path segment`);
  }
  return encodeURIComponent(value);
}

/**
 * URL path of a collection (no name) or of one object, optionally of a subresource.
 * For a namespaced resource without a namespace the path is the all-namespaces collection.
 */
export function resourcePath(
  resource: ResourceType,
  opts: { namespace?: string | undefined; name?: string | undefined; subresource?: string | undefined } = {},
): string {
  const base =
    resource.group === ''
      ? `/api/${segment(resource.version, 'version')}`
      : `/apis/${segment(resource.group, 'group')}/${segment(resource.version, 'version')}`;
  let path = base;
  if (resource.namespaced && opts.namespace !== undefined) {
    path += `/namespaces/${segment(opts.namespace, 'metadata.namespace')}`;
  } else if (!resource.namespaced && opts.namespace !== undefined && opts.namespace !== '') {
    throw new Error(`resource ${resourceLabel(resource)} is cluster-scoped but namespace ${opts.namespace} was given`);
  }
  path += `/${segment(resource.plural, 'plural')}`;
  if (opts.name !== undefined) {
    if (resource.namespaced && opts.namespace === undefined) {
      throw new Error(`resource ${resourceLabel(resource)} is namespaced: metadata.namespace is required for ${opts.name}`);
    }
    path += `/${segment(opts.name, 'metadata.name')}`;
    if (opts.subresource !== undefined) path += `/${segment(opts.subresource, 'subresource')}`;
  } else if (opts.subresource !== undefined) {
    throw new Error('a subresource needs an object name');
  }
  return path;
}

/** Cache/queue key: 'namespace/name' for namespaced objects, 'name' for cluster-scoped ones (as client-go). */
export function objectKey(obj: Pick<KubeObject, 'metadata'>): string {
  const name = obj.metadata.name;
  if (name === undefined || name === '') throw new Error('object has no metadata.name');
  const ns = obj.metadata.namespace;
  return ns !== undefined && ns !== '' ? `${ns}/${name}` : name;
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace !== undefined && namespace !== '' ? `${namespace}/${name}` : name;
}

/** Inverse of objectKey. A key has at most one '/' (namespace and name cannot contain one). */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const parts = key.split('/');
  if (parts.length === 1 && parts[0] !== '') return { namespace: undefined, name: parts[0]! };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { namespace: parts[0]!, name: parts[1]! };
  throw new Error(`invalid object key ${JSON.stringify(key)}: want "name" or "namespace/name"`);
}

export function isKubeObject(value: unknown): value is KubeObject {
  if (value === null || typeof value !== 'object') return false;
  const meta = (value as { metadata?: unknown }).metadata;
  return meta !== null && typeof meta === 'object' && typeof (meta as { name?: unknown }).name === 'string';
}
