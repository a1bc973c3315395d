// The console's live picture of the cluster: list, then watch, Proposals, Decisions, Jobs and Approvals
// with the approver's own client, and say which proposal each change touches. A watch that ends is resumed
// from the last resourceVersion seen; one that is too old (410) or fails is listed again after a pause, and
// the failure is reported (the page shows it) rather than hidden.
import { isClientError, type ClientKindName, type M87Client, type ObjectOf } from '../client/index.ts';
import { proposalKey } from './views.ts';

export const WATCHED_KINDS = ['Proposal', 'Decision', 'Job', 'Approval'] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];

/** The proposal (namespace/name) an object is about: Decision and Job share its name, an Approval names it. */
function proposalKeyOf(kind: WatchedKind, obj: ObjectOf<WatchedKind>): string {
  const ns = obj.metadata.namespace ?? '';
  if (kind === 'Approval') return proposalKey(ns, (obj as ObjectOf<'Approval'>).spec.proposalName);
  return proposalKey(ns, obj.metadata.name ?? '');
}

function objectKey(obj: { metadata: { namespace?: string | undefined; name?: string | undefined } }): string {
  return `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;
}

export interface LiveOptions {
  client: M87Client;
  /** One namespace, or undefined for every namespace the credentials may list. */
  namespace: string | undefined;
  /** Called with the keys of proposals whose picture changed. */
  onChange: (proposalKeys: ReadonlySet<string>) => void;
  /** Called when a kind's watch fails (message) or recovers (undefined). */
  onHealth: (kind: WatchedKind, problem: string | undefined) => void;
  /** Pause before listing again after a failure. Default 2 s. */
  retryMs?: number;
  /** Server-side watch timeout. Default 240 s. */
  watchSeconds?: number;
}

export class LiveModel {
  readonly proposals = new Map<string, ObjectOf<'Proposal'>>();
  readonly decisions = new Map<string, ObjectOf<'Decision'>>();
  readonly jobs = new Map<string, ObjectOf<'Job'>>();
  readonly approvals = new Map<string, ObjectOf<'Approval'>>();
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly ready = new Map<WatchedKind, Promise<void>>();
  private readonly opts: LiveOptions;

  constructor(opts: LiveOptions) {
    this.opts = opts;
  }

  private store<K extends WatchedKind>(kind: K): Map<string, ObjectOf<K>> {
    const stores = { Proposal: this.proposals, Decision: this.decisions, Job: this.jobs, Approval: this.approvals };
    return stores[kind] as unknown as Map<string, ObjectOf<K>>;
  }

  /** Starts every watch; resolves once each kind was listed once (or failed its first list). */
  start(): Promise<void> {
    for (const kind of WATCHED_KINDS) {
      let first!: () => void;
      this.ready.set(kind, new Promise<void>((resolve) => (first = resolve)));
      this.loops.push(this.run(kind, first));
    }
    return Promise.all(this.ready.values()).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  /** The approvals naming a proposal (any incarnation; the view keeps this UID's). */
  approvalsOf(namespace: string, name: string): ObjectOf<'Approval'>[] {
    return [...this.approvals.values()].filter((a) => a.metadata.namespace === namespace && a.spec.proposalName === name);
  }

  private async run<K extends WatchedKind & ClientKindName>(kind: K, listed: () => void): Promise<void> {
    const { client, namespace } = this.opts;
    const signal = this.abort.signal;
    const store = this.store(kind);
    while (!signal.aborted) {
      try {
        const list = await client.list(kind, { namespace });
        const changed = new Set<string>();
        const seen = new Set<string>();
        for (const obj of list.items) {
          const key = objectKey(obj);
          seen.add(key);
          if (store.get(key)?.metadata.resourceVersion !== obj.metadata.resourceVersion) changed.add(proposalKeyOf(kind, obj));
          store.set(key, obj);
        }
        for (const [key, obj] of store) {
          if (!seen.has(key)) {
            store.delete(key);
            changed.add(proposalKeyOf(kind, obj));
          }
        }
        this.opts.onHealth(kind, undefined);
        listed();
        if (changed.size > 0) this.opts.onChange(changed);
        let resourceVersion = list.resourceVersion;
        // Resume the watch where it ended until it fails; then list again.
        for (;;) {
          for await (const event of client.watch(kind, { namespace, resourceVersion, signal, timeoutSeconds: this.opts.watchSeconds ?? 240 })) {
            if (event.type === 'BOOKMARK') {
              if (event.resourceVersion !== '') resourceVersion = event.resourceVersion;
              continue;
            }
            const obj = event.object;
            resourceVersion = obj.metadata.resourceVersion ?? resourceVersion;
            if (event.type === 'DELETED') store.delete(objectKey(obj));
            else store.set(objectKey(obj), obj);
            this.opts.onChange(new Set([proposalKeyOf(kind, obj)]));
          }
          if (signal.aborted) return;
        }
      } catch (err) {
        if (signal.aborted) return;
        listed();
        if (!isClientError(err, 'Expired')) this.opts.onHealth(kind, err instanceof Error ? err.message : String(err));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.opts.retryMs ?? 2000);
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
    }
  }
}
