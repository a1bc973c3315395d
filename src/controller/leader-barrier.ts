// Before a new leader decides or mints, its caches must contain every write made before it became leader
// (a previous leader's last Decision, Job or verdict). A LIST that *started* after leadership was acquired
// contains them; a LIST already in flight at that moment may not, so counting completed LISTs is not
// enough (Informer.relistAndWait waits for one that started after the call).
import type { Logger } from 'pino';
import type { Informer } from '../runtime/informer.ts';
import type { KubeObject } from '../runtime/resource.ts';

export interface LeaderBarrierOptions {
  /** The informers decisions depend on. */
  informers: readonly Informer<KubeObject>[];
  /** false: a single replica without election; nobody wrote before us. */
  relist: boolean;
  /** Runs once after the relist, before anything is decided (e.g. publishing the public key). */
  then: () => Promise<void>;
  log: Logger;
  timeoutMs?: number;
}

export class LeaderBarrier {
  readonly #opts: LeaderBarrierOptions;
  #passed: Promise<void> | undefined;

  constructor(opts: LeaderBarrierOptions) {
    this.#opts = opts;
  }

  /** Resolves once the caches reflect every earlier write; reconcilers that decide or mint await it first. */
  wait(signal: AbortSignal): Promise<void> {
    this.#passed ??= this.#pass(signal);
    this.#passed.catch(() => (this.#passed = undefined));
    return this.#passed;
  }

  async #pass(signal: AbortSignal): Promise<void> {
    const { informers, relist, then, log, timeoutMs = 60_000 } = this.#opts;
    if (relist) await Promise.all(informers.map((i) => i.relistAndWait({ signal, timeoutMs })));
    await then();
    log.info('Caches reflect every earlier write; deciding');
  }
}
