// The typed client of the M87 API: get, list, watch and create for every M87 kind, on the project's one HTTP
// stack (src/runtime/kube-http.ts). Every object the API server returns is parsed with the kind's zod
// schema (an object the schema refuses is an error, never passed on half-checked), every object sent is
// checked first, and every failure is an M87ClientError that names the object and, where it can, the field.
// Used by the CLI, the MCP server and the tests; a long-lived caller (the console) keeps one per identity.
import type { KubeConfig } from '@kubernetes/client-node';
import { API_VERSION } from '../api/group.ts';
import { kubeRequest, streamWatch, type KubeStatus, type QueryValue } from '../runtime/kube-http.ts';
import { resourcePath } from '../runtime/resource.ts';
import { describeIssues, fromApiError, M87ClientError } from './errors.ts';
import { CLIENT_KINDS, type ClientKindName, type ObjectOf } from './resources.ts';

/** Largest object the client sends (etcd's default request limit is 1.5 MiB; leave room for metadata). */
export const MAX_OBJECT_BYTES = 1024 * 1024;

export interface ObjectRef {
  /** Required for namespaced kinds, absent for cluster-scoped ones. */
  namespace?: string | undefined;
  name: string;
}

export interface ListOptions {
  /** A namespace, or undefined for all namespaces (namespaced kinds) / the cluster (cluster-scoped kinds). */
  namespace?: string | undefined;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListResult<K extends ClientKindName> {
  items: ObjectOf<K>[];
  /** Start a watch here to see every change after the list. */
  resourceVersion: string;
}

export interface WatchOptions extends ListOptions {
  /** Watch one object (sets fieldSelector metadata.name=…). */
  name?: string;
  resourceVersion?: string;
  /** Server-side end of the watch; the iteration then ends normally. Default 300 s. */
  timeoutSeconds?: number;
  signal?: AbortSignal;
}

export type WatchEvent<K extends ClientKindName> =
  | { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: ObjectOf<K> }
  /** A bookmark carries only the resourceVersion to resume from. */
  | { type: 'BOOKMARK'; resourceVersion: string };

export interface Identity {
  username: string;
  groups: string[];
  uid?: string | undefined;
}

function describe(kind: ClientKindName, ref: ObjectRef): string {
  return ref.namespace === undefined ? `${kind} ${ref.name}` : `${kind} ${ref.namespace}/${ref.name}`;
}

export class M87Client {
  readonly kubeConfig: KubeConfig;
  constructor(kubeConfig: KubeConfig) {
    this.kubeConfig = kubeConfig;
  }

  /** Parses what the API server returned for `what`; refuses anything the schema refuses. */
  parse<K extends ClientKindName>(kind: K, raw: unknown, what: string): ObjectOf<K> {
    const r = CLIENT_KINDS[kind].schema.safeParse(raw);
    if (!r.success) {
      const d = describeIssues(r.error.issues);
      throw new M87ClientError('InvalidResponse', `${what} as the API server returned it does not match the ${kind} schema: ${d.text}`, { field: d.field });
    }
    return r.data as ObjectOf<K>;
  }

  private path(kind: ClientKindName, ref: { namespace?: string | undefined; name?: string | undefined }): string {
    const resource = CLIENT_KINDS[kind].resource;
    if (resource.namespaced && ref.name !== undefined && (ref.namespace === undefined || ref.namespace === '')) {
      throw new M87ClientError('Invalid', `${kind} ${ref.name}: a namespace is required (${kind} is namespaced)`, { field: 'metadata.namespace' });
    }
    try {
      return resourcePath(resource, { namespace: resource.namespaced ? ref.namespace : undefined, name: ref.name });
    } catch (err) {
      throw new M87ClientError('Invalid', `${kind}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async request<T>(what: string, req: Parameters<typeof kubeRequest>[1]): Promise<T> {
    try {
      return await kubeRequest<T>(this.kubeConfig, req);
    } catch (err) {
      throw fromApiError(err, what);
    }
  }

  /** One object; M87ClientError NotFound when it does not exist. */
  async get<K extends ClientKindName>(kind: K, ref: ObjectRef, opts: { signal?: AbortSignal } = {}): Promise<ObjectOf<K>> {
    const what = describe(kind, ref);
    const raw = await this.request<unknown>(what, { method: 'GET', path: this.path(kind, ref), ...(opts.signal ? { signal: opts.signal } : {}) });
    return this.parse(kind, raw, what);
  }

  /** One object, or undefined when it does not exist. */
  async find<K extends ClientKindName>(kind: K, ref: ObjectRef, opts: { signal?: AbortSignal } = {}): Promise<ObjectOf<K> | undefined> {
    try {
      return await this.get(kind, ref, opts);
    } catch (err) {
      if (err instanceof M87ClientError && err.reason === 'NotFound') return undefined;
      throw err;
    }
  }

  /** Every object of a kind, each parsed; one the schema refuses fails the whole list (fail closed). */
  async list<K extends ClientKindName>(kind: K, opts: ListOptions = {}): Promise<ListResult<K>> {
    const plural = CLIENT_KINDS[kind].resource.plural;
    const raw = await this.listRaw(kind, opts);
    const items = raw.items.map((item, i) => {
      const name = (item as { metadata?: { name?: unknown } } | null)?.metadata?.name;
      return this.parse(kind, item, typeof name === 'string' ? `${kind} ${name}` : `${plural}[${i}]`);
    });
    return { items, resourceVersion: raw.resourceVersion };
  }

  /**
   * Every object of a kind, unparsed (apiVersion and kind filled in), for callers that judge each object on
   * its own — e.g. a catalogue that shows an invalid entry as invalid instead of hiding the others. Parse
   * each with parse() before trusting it.
   */
  async listRaw(kind: ClientKindName, opts: ListOptions = {}): Promise<{ items: unknown[]; resourceVersion: string }> {
    const plural = CLIENT_KINDS[kind].resource.plural;
    const what = opts.namespace === undefined ? `list ${plural}` : `list ${plural} in ${opts.namespace}`;
    const raw = await this.request<{ items?: unknown[]; metadata?: { resourceVersion?: string } }>(what, {
      method: 'GET',
      path: this.path(kind, { namespace: opts.namespace }),
      query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
    });
    // List items carry no apiVersion/kind; the list's own are implied.
    const items = (raw.items ?? []).map((item) => (item !== null && typeof item === 'object' ? { apiVersion: API_VERSION, kind, ...item } : item));
    return { items, resourceVersion: raw.metadata?.resourceVersion ?? '' };
  }

  /**
   * Watches a kind (optionally one object) from a resourceVersion, yielding parsed events until the server
   * ends the watch (timeoutSeconds) or the signal aborts. An ERROR event becomes an M87ClientError (410 →
   * Expired: list again). The caller owns reconnecting.
   */
  async *watch<K extends ClientKindName>(kind: K, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<K>, void, undefined> {
    const plural = CLIENT_KINDS[kind].resource.plural;
    const what = `watch ${plural}${opts.name !== undefined ? ` ${opts.name}` : ''}`;
    const fieldSelector = [opts.fieldSelector, opts.name !== undefined ? `metadata.name=${opts.name}` : undefined].filter((s) => s !== undefined).join(',');
    const query: Record<string, QueryValue> = {
      watch: 1,
      allowWatchBookmarks: true,
      resourceVersion: opts.resourceVersion,
      timeoutSeconds: opts.timeoutSeconds ?? 300,
      labelSelector: opts.labelSelector,
      fieldSelector: fieldSelector === '' ? undefined : fieldSelector,
    };
    const controller = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
    // Events are pushed by the stream and pulled by the consumer; a small queue joins the two.
    const queue: WatchEvent<K>[] = [];
    let failure: unknown;
    let finished = false;
    let wake: (() => void) | undefined;
    const notify = (): void => {
      wake?.();
      wake = undefined;
    };
    const done = streamWatch(this.kubeConfig, { path: this.path(kind, { namespace: opts.namespace }), query, signal }, (event) => {
      if (event.type === 'ERROR') {
        const status = event.object as KubeStatus;
        throw fromApiError({ code: status.code, statusCode: status.code, body: status }, what);
      }
      if (event.type === 'BOOKMARK') {
        const rv = (event.object as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion ?? '';
        queue.push({ type: 'BOOKMARK', resourceVersion: rv });
      } else if (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED') {
        queue.push({ type: event.type, object: this.parse(kind, event.object, `${what}: ${event.type} event`) });
      }
      notify();
    }).then(
      () => {
        finished = true;
        notify();
      },
      (err: unknown) => {
        failure = err;
        finished = true;
        notify();
      },
    );
    try {
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (finished) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      if (failure !== undefined && !(opts.signal?.aborted === true)) throw fromApiError(failure, what);
    } finally {
      controller.abort();
      await done;
    }
  }

  /**
   * Creates an object after checking it against the kind's schema (errors name the field). The object is
   * sent as given; the API server's answer is parsed and returned.
   */
  async create<K extends ClientKindName>(kind: K, body: unknown, opts: { dryRun?: boolean; maxBytes?: number } = {}): Promise<ObjectOf<K>> {
    const meta = (body as { metadata?: { name?: string; generateName?: string; namespace?: string } } | null)?.metadata;
    const ref = { namespace: meta?.namespace, name: meta?.name ?? `${meta?.generateName ?? ''}…` };
    const what = `create ${describe(kind, ref)}`;
    const checked = CLIENT_KINDS[kind].schema.safeParse(body);
    if (!checked.success) {
      const d = describeIssues(checked.error.issues);
      throw new M87ClientError('Invalid', `${what}: not a valid ${kind}:\n${d.text}`, { field: d.field });
    }
    const bytes = Buffer.byteLength(JSON.stringify(body), 'utf8');
    const max = opts.maxBytes ?? MAX_OBJECT_BYTES;
    if (bytes > max) throw new M87ClientError('TooLarge', `${what}: the ${kind} is ${bytes} bytes of JSON; at most ${max} are sent`);
    const raw = await this.request<unknown>(what, {
      method: 'POST',
      path: this.path(kind, { namespace: meta?.namespace }),
      body,
      query: { dryRun: opts.dryRun === true ? 'All' : undefined, fieldValidation: 'Strict' },
    });
    return this.parse(kind, raw, what);
  }

  /** Who the API server says the credentials are (SelfSubjectReview). */
  async whoAmI(): Promise<Identity> {
    let review: { status?: { userInfo?: { username?: string; groups?: string[]; uid?: string } } };
    try {
      review = await this.request('SelfSubjectReview', {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
    } catch (err) {
      // Every authenticated user may ask who it is (system:basic-user); a refusal means nobody authenticated.
      if (err instanceof M87ClientError && err.reason === 'Forbidden') {
        throw new M87ClientError('Unauthorized', 'the API server refused to say who the credentials are (SelfSubjectReview forbidden): they are anonymous or not authenticated', {
          status: 403,
          cause: err,
        });
      }
      throw err;
    }
    const user = review.status?.userInfo;
    if (user?.username === undefined || user.username === '') {
      throw new M87ClientError('Unauthorized', 'the API server did not say who the credentials are (SelfSubjectReview has no username)');
    }
    return { username: user.username, groups: user.groups ?? [], uid: user.uid };
  }

  /** Whether the credentials may `verb` the resource (SelfSubjectAccessReview; the authorizer's answer). */
  async canI(verb: string, kind: ClientKindName, ref: { namespace?: string | undefined; name?: string | undefined } = {}): Promise<boolean> {
    const resource = CLIENT_KINDS[kind].resource;
    const review = await this.request<{ status?: { allowed?: boolean } }>('SelfSubjectAccessReview', {
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { group: resource.group, resource: resource.plural, verb, namespace: ref.namespace, name: ref.name } },
      },
    });
    return review.status?.allowed === true;
  }
}
