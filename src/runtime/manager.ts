// The manager runs a process's informers, leader election and controllers, and shuts them down in order:
// 1. informers start on every replica (standbys keep warm caches, so failover does not wait for a list);
// 2. controllers start only on the leader, and only once their caches synced;
// 3. on SIGTERM/SIGINT (or stop()): controllers stop accepting keys and drain their queues within a
//    deadline, then the lease is released (a standby takes over at once), then informers stop;
// 4. on lost leadership: controllers are aborted without draining (their fence already refuses writes)
//    and run() rejects with LeadershipLostError so the process exits and restarts as a candidate.
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { sleep } from './backoff.ts';
import { registerInformerStaleness, type Controller } from './controller.ts';
import type { Informer } from './informer.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.ts';
import type { KubeObject } from './resource.ts';

export class LeadershipLostError extends Error {
  constructor(reason: string) {
    super(`leadership lost: ${reason}`);
    this.name = 'LeadershipLostError';
  }
}

export interface ManagerOptions {
  logger?: Logger;
  registry?: Registry;
  /** Lease-based election; omit to run as the only replica (dev/test): then fence() always passes. */
  leaderElection?: Omit<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading' | 'logger' | 'registry'>;
  /** Deadline for draining work queues on shutdown; default 30 s. */
  shutdownTimeoutMs?: number;
  /** After the drain deadline, how long to wait for in-flight reconciles before releasing; default 5 s. */
  inFlightGraceMs?: number;
  /** Install SIGTERM/SIGINT handlers for the duration of run(); default true. */
  handleSignals?: boolean;
}

type Phase = 'new' | 'running' | 'stopping' | 'stopped';

export class Manager {
  readonly #opts: ManagerOptions;
  readonly #log: Logger;
  readonly #informers: Informer<KubeObject>[] = [];
  readonly #controllers: Controller<unknown>[] = [];
  readonly #elector: LeaderElector | undefined;
  #phase: Phase = 'new';
  #controllersStarted = false;
  #settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  #stopping: Promise<void> | undefined;
  #signalHandlers: { signal: NodeJS.Signals; handler: () => void }[] = [];

  constructor(opts: ManagerOptions = {}) {
    this.#opts = opts;
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'manager' });
    if (opts.leaderElection) {
      this.#elector = new LeaderElector({
        ...opts.leaderElection,
        logger: this.#log,
        ...(opts.registry ? { registry: opts.registry } : {}),
        onStartedLeading: () => this.#startControllers(),
        onStoppedLeading: (reason) => {
          if (this.#phase === 'running') this.#fail(new LeadershipLostError(reason));
        },
      });
    }
  }

  get identity(): string | undefined {
    return this.#elector?.identity;
  }

  addInformer<T extends KubeObject>(informer: Informer<T>): this {
    if (this.#phase !== 'new') throw new Error('manager: add informers before run()');
    const inf = informer as unknown as Informer<KubeObject>;
    this.#informers.push(inf);
    if (this.#opts.registry) registerInformerStaleness(this.#opts.registry, inf);
    return this;
  }

  addController<K>(controller: Controller<K>): this {
    if (this.#phase !== 'new') throw new Error('manager: add controllers before run()');
    controller.setFence(() => this.fence());
    this.#controllers.push(controller as Controller<unknown>);
    return this;
  }

  /** Whether this replica may write now (always true without leader election, false once stopping). */
  isLeader(): boolean {
    if (this.#elector) return this.#elector.isLeader();
    return this.#phase === 'running' || this.#phase === 'stopping';
  }

  /** Throws unless isLeader(); controllers call it (via ctx.fence) before each write. */
  fence(): void {
    if (this.#elector) {
      this.#elector.fence();
      return;
    }
    // Draining (phase 'stopping') may still write; before run() and after shutdown nothing may.
    if (this.#phase !== 'running' && this.#phase !== 'stopping') throw new Error('manager: not running; refusing to write');
  }

  /** Readiness: all informers synced. */
  isReady(): boolean {
    return this.#phase === 'running' && this.#informers.every((i) => i.hasSynced());
  }

  /**
   * Runs until stop() or a termination signal (resolves after an orderly shutdown) or until leadership
   * is lost or a controller cannot start (rejects).
   */
  run(): Promise<void> {
    if (this.#phase !== 'new') throw new Error('manager: run() can be called once');
    this.#phase = 'running';
    const done = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    if (this.#opts.handleSignals ?? true) this.#installSignalHandlers();
    for (const informer of this.#informers) informer.start();
    if (this.#elector) {
      void this.#elector.run().catch((err: unknown) => this.#fail(err));
    } else {
      this.#startControllers();
    }
    return done;
  }

  /** Orderly shutdown (idempotent): drain controllers, release the lease, stop informers. */
  stop(reason = 'stop requested'): Promise<void> {
    this.#stopping ??= this.#shutdown(reason);
    return this.#stopping;
  }

  #startControllers(): void {
    if (this.#controllersStarted || this.#phase !== 'running') return;
    this.#controllersStarted = true;
    this.#log.info({ controllers: this.#controllers.map((c) => c.name) }, 'Starting controllers');
    for (const controller of this.#controllers) {
      controller.start().catch((err: unknown) => {
        if (this.#phase === 'running') this.#fail(err);
      });
    }
  }

  async #shutdown(reason: string): Promise<void> {
    if (this.#phase === 'new') {
      this.#phase = 'stopped';
      return;
    }
    this.#phase = 'stopping';
    this.#log.info({ reason }, 'Shutting down');
    const timeoutMs = this.#opts.shutdownTimeoutMs ?? 30_000;
    const drained = await Promise.all(this.#controllers.map((c) => c.stop({ drain: true, timeoutMs })));
    if (!drained.every(Boolean)) this.#log.warn('Drain deadline passed; in-flight reconciles were aborted');
    const grace = new AbortController();
    await Promise.race([
      Promise.all(this.#controllers.map((c) => c.done())),
      sleep(this.#opts.inFlightGraceMs ?? 5_000, grace.signal),
    ]);
    grace.abort();
    await this.#elector?.stop();
    await Promise.all(this.#informers.map((i) => i.stop()));
    this.#removeSignalHandlers();
    this.#phase = 'stopped';
    this.#log.info('Shut down');
    this.#settle?.resolve();
  }

  #fail(err: unknown): void {
    if (this.#phase !== 'running') return;
    this.#phase = 'stopping';
    this.#log.error({ err }, 'Manager failing');
    const abortAll = async (): Promise<void> => {
      await Promise.all(this.#controllers.map((c) => c.stop({ drain: false, timeoutMs: 0 })));
      await this.#elector?.stop();
      await Promise.all(this.#informers.map((i) => i.stop()));
    };
    this.#stopping = abortAll()
      .catch((stopErr: unknown) => this.#log.error({ err: stopErr }, 'Error while aborting'))
      .finally(() => {
        this.#removeSignalHandlers();
        this.#phase = 'stopped';
        this.#settle?.reject(err);
      });
  }

  #installSignalHandlers(): void {
    let received = 0;
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const handler = (): void => {
        received++;
        if (received > 1) {
          this.#log.error({ signal }, 'Second termination signal; exiting immediately');
          process.exit(1);
        }
        this.#log.info({ signal }, 'Termination signal received');
        void this.stop(signal);
      };
      process.on(signal, handler);
      this.#signalHandlers.push({ signal, handler });
    }
  }

  #removeSignalHandlers(): void {
    for (const { signal, handler } of this.#signalHandlers.splice(0)) process.off(signal, handler);
  }
}
