// Lease-based leader election (coordination.k8s.io/v1), following client-go's leaderelection package:
// a candidate takes the Lease when it is free (no holder) or when it has seen the same record unchanged for
// the record's leaseDurationSeconds (its own monotonic clock, so clock skew between nodes does not matter);
// the leader renews every retryPeriod with optimistic concurrency (resourceVersion) and stops leading as
// soon as it could not renew within renewDeadline.
//
// Fencing: `isLeader()`/`fence()` compare the time since the last successful renew (measured from when that
// renew request was *sent*) with renewDeadline on both the wall clock and the monotonic clock. A process
// that was frozen (SIGSTOP, VM pause) past its lease therefore sees it lost leadership the moment it resumes,
// before any timer or renew callback had a chance to run, and before it writes anything. renewDeadline <
// leaseDuration leaves the margin for writes already in flight.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { sleep } from './backoff.ts';
import { deadline } from './deadline.ts';
import type { KubeClient } from './kube-access.ts';
import { isConflict, isNotFound, kubeRequest } from './kube-http.ts';
import { gauge } from './metrics.ts';
import { resourcePath, type KubeObject, type ResourceType } from './resource.ts';

export const LEASE_RESOURCE: ResourceType = {
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  namespaced: true,
  kind: 'Lease',
};

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease extends KubeObject {
  spec?: LeaseSpec;
}

export interface Clock {
  /** Wall clock, ms since the epoch. */
  wallNow(): number;
  /** Monotonic clock, ms. */
  monoNow(): number;
}

const systemClock: Clock = { wallNow: () => Date.now(), monoNow: () => performance.now() };

export interface LeaderElectionTimings {
  /** How long a candidate waits on an unchanged lease before taking it; default 15 s. */
  leaseDurationMs: number;
  /** The leader stops leading when it could not renew for this long; default 10 s. */
  renewDeadlineMs: number;
  /** Interval between acquire/renew attempts; default 2 s. */
  retryPeriodMs: number;
}

export const DEFAULT_TIMINGS: LeaderElectionTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** client-go's JitterFactor: candidates retry after retryPeriod * [1, 2.2). */
const JITTER_FACTOR = 1.2;

export function validateTimings(t: LeaderElectionTimings): void {
  if (!(t.retryPeriodMs > 0)) throw new Error('leader election: retryPeriodMs must be > 0');
  if (!(t.renewDeadlineMs > JITTER_FACTOR * t.retryPeriodMs)) {
    throw new Error(`leader election: renewDeadlineMs must be > ${JITTER_FACTOR} * retryPeriodMs`);
  }
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) {
    throw new Error('leader election: leaseDurationMs must be > renewDeadlineMs');
  }
  if (t.leaseDurationMs < 1000) throw new Error('leader election: leaseDurationMs must be >= 1000');
}

/**
 * Whether a candidate may take the lease: it is free (no holder), or the record it shows has been
 * observed unchanged (by this process, on its monotonic clock) for at least the record's own duration.
 */
export function leaseExpiredForCandidate(args: {
  holderIdentity: string | undefined;
  leaseDurationSeconds: number | undefined;
  observedAtMonoMs: number;
  nowMonoMs: number;
  /** Used when the record carries no usable duration. */
  fallbackDurationMs: number;
}): boolean {
  if (args.holderIdentity === undefined || args.holderIdentity === '') return true;
  const seconds = args.leaseDurationSeconds;
  const durationMs = seconds !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : args.fallbackDurationMs;
  return args.nowMonoMs - args.observedAtMonoMs >= durationMs;
}

/**
 * Whether a leader whose last successful renew was sent at (wall, mono) may still act. Both clocks must
 * agree; a wall clock that went backwards counts as "not leading" (fail closed).
 */
export function withinRenewDeadline(args: {
  renewedAtWallMs: number;
  renewedAtMonoMs: number;
  nowWallMs: number;
  nowMonoMs: number;
  renewDeadlineMs: number;
}): boolean {
  const wall = args.nowWallMs - args.renewedAtWallMs;
  const mono = args.nowMonoMs - args.renewedAtMonoMs;
  return wall >= 0 && wall < args.renewDeadlineMs && mono >= 0 && mono < args.renewDeadlineMs;
}

/** metav1.MicroTime wire format (RFC 3339 with exactly six fractional digits). */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class NotLeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotLeaderError';
  }
}

export interface LeaderElectionOptions extends Partial<LeaderElectionTimings> {
  kubeConfig: KubeClient;
  /** Namespace and name of the Lease object. */
  namespace: string;
  name: string;
  /** Unique per process; default `<hostname>_<uuid>`. */
  identity?: string;
  /** Release the lease when stop() is called while leading; default true. */
  releaseOnStop?: boolean;
  logger?: Logger;
  registry?: Registry;
  /** Called once when this process becomes leader; the signal aborts when leadership ends. */
  onStartedLeading?: (signal: AbortSignal) => void;
  /** Called once when leadership ends (lost or released). Callers must stop writing. */
  onStoppedLeading?: (reason: string) => void;
  /** Called when a different holder is observed. */
  onNewLeader?: (identity: string) => void;
  clock?: Clock;
}

type State = 'idle' | 'candidate' | 'leading' | 'stopped';

type AttemptResult = 'acquired' | 'renewed' | 'held-by-other' | 'lost' | 'conflict';

export class LeaderElector {
  readonly identity: string;
  readonly timings: LeaderElectionTimings;

  readonly #opts: LeaderElectionOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #path: string;
  readonly #collectionPath: string;
  readonly #stop = new AbortController();
  readonly #setLeaderGauge: (v: number) => void;

  #state: State = 'idle';
  #lease: Lease | undefined;
  #observedRV: string | undefined;
  #observedAtMono = 0;
  #observedHolder: string | undefined;
  #renewedAtWall = 0;
  #renewedAtMono = 0;
  #leading: AbortController | undefined;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #run: Promise<void> | undefined;

  constructor(opts: LeaderElectionOptions) {
    this.timings = {
      leaseDurationMs: opts.leaseDurationMs ?? DEFAULT_TIMINGS.leaseDurationMs,
      renewDeadlineMs: opts.renewDeadlineMs ?? DEFAULT_TIMINGS.renewDeadlineMs,
      retryPeriodMs: opts.retryPeriodMs ?? DEFAULT_TIMINGS.retryPeriodMs,
    };
    validateTimings(this.timings);
    if (opts.identity === '') throw new Error('leader election: identity must be non-empty');
    this.identity = opts.identity ?? `${hostname()}_${randomUUID()}`;
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
    this.#log = (opts.logger ?? pino({ level: 'silent' })).child({ lease: `${opts.namespace}/${opts.name}`, identity: this.identity });
    this.#path = resourcePath(LEASE_RESOURCE, { namespace: opts.namespace, name: opts.name });
    this.#collectionPath = resourcePath(LEASE_RESOURCE, { namespace: opts.namespace });
    if (opts.registry) {
      const g = gauge(opts.registry, 'm87_leader_election_is_leader', '1 while this process holds the lease.', ['lease']);
      const labels = { lease: opts.name };
      g.set(labels, 0);
      this.#setLeaderGauge = (v) => g.set(labels, v);
    } else {
      this.#setLeaderGauge = () => undefined;
    }
  }

  /** True only while leading and within the renew deadline (checked against the clocks, not timers). */
  isLeader(): boolean {
    if (this.#state !== 'leading') return false;
    if (this.#withinDeadline()) return true;
    // A timer may not have fired yet (e.g. the process was frozen): end leadership now.
    this.#stopLeading('renew deadline passed');
    return false;
  }

  /** Throws NotLeaderError unless isLeader(). Call immediately before every write. */
  fence(): void {
    if (!this.isLeader()) throw new NotLeaderError(`not the leader of lease ${this.#opts.namespace}/${this.#opts.name}`);
  }

  /** Holder identity last observed on the lease (may be stale). */
  observedLeader(): string | undefined {
    return this.#observedHolder;
  }

  /**
   * Runs election: waits to acquire, leads while renewing, resolves when leadership ended (lost) or
   * stop() was called. An elector runs once; create a new one to stand again.
   */
  run(): Promise<void> {
    if (this.#run) return this.#run;
    this.#run = this.#runLoop().catch((err: unknown) => {
      // Never leave a leader behind whose renew loop died: end leadership, then report.
      this.#stopLeading('election loop failed');
      this.#state = 'stopped';
      throw err;
    });
    return this.#run;
  }

  /** Stops campaigning; if leading, stops leading and (by default) releases the lease for a fast handover. */
  async stop(): Promise<void> {
    this.#stop.abort(new Error('leader election stopped'));
    await this.#run?.catch(() => undefined);
    if (this.#state !== 'stopped') this.#state = 'stopped';
  }

  async #runLoop(): Promise<void> {
    const signal = this.#stop.signal;
    const { retryPeriodMs } = this.timings;
    this.#state = 'candidate';
    this.#log.info('Campaigning for leadership');
    while (!signal.aborted) {
      const result = await this.#attempt(signal);
      if (result === 'acquired') break;
      await sleep(retryPeriodMs * (1 + Math.random() * JITTER_FACTOR), signal);
    }
    if (signal.aborted) {
      this.#state = 'stopped';
      return;
    }
    this.#startLeading();
    while (this.#currentState() === 'leading' && !signal.aborted) {
      await sleep(retryPeriodMs, signal);
      if (signal.aborted) break;
      if (!this.isLeader()) break;
      const result = await this.#attempt(signal);
      if (result === 'lost') this.#stopLeading('lease taken by another holder');
    }
    if (signal.aborted && this.#currentState() === 'leading') {
      this.#stopLeading('stopped');
      if (this.#opts.releaseOnStop ?? true) await this.#release();
    }
    this.#state = 'stopped';
  }

  /** Read through a method: callbacks change the state while the loop awaits. */
  #currentState(): State {
    return this.#state;
  }

  #withinDeadline(): boolean {
    return withinRenewDeadline({
      renewedAtWallMs: this.#renewedAtWall,
      renewedAtMonoMs: this.#renewedAtMono,
      nowWallMs: this.#clock.wallNow(),
      nowMonoMs: this.#clock.monoNow(),
      renewDeadlineMs: this.timings.renewDeadlineMs,
    });
  }

  #startLeading(): void {
    this.#state = 'leading';
    this.#leading = new AbortController();
    this.#setLeaderGauge(1);
    this.#armDeadline();
    this.#log.info('Became leader');
    try {
      this.#opts.onStartedLeading?.(this.#leading.signal);
    } catch (err) {
      this.#log.error({ err }, 'onStartedLeading threw');
    }
  }

  #stopLeading(reason: string): void {
    if (this.#state !== 'leading') return;
    this.#state = 'stopped';
    clearTimeout(this.#deadlineTimer);
    this.#setLeaderGauge(0);
    this.#leading?.abort(new NotLeaderError(`leadership ended: ${reason}`));
    this.#log.warn({ reason }, 'Stopped leading');
    // Let the election loop observe the state change promptly.
    this.#stop.abort(new Error(`leadership ended: ${reason}`));
    try {
      this.#opts.onStoppedLeading?.(reason);
    } catch (err) {
      this.#log.error({ err }, 'onStoppedLeading threw');
    }
  }

  /** Fires at the renew deadline so callbacks run even if nobody calls isLeader(). */
  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const remaining = this.#renewedAtMono + this.timings.renewDeadlineMs - this.#clock.monoNow();
    this.#deadlineTimer = setTimeout(() => {
      if (this.#state === 'leading' && !this.#withinDeadline()) this.#stopLeading('renew deadline passed');
      else if (this.#state === 'leading') this.#armDeadline();
    }, Math.max(0, remaining) + 1);
    this.#deadlineTimer.unref?.();
  }

  #recordRenewal(lease: Lease, sentAtWall: number, sentAtMono: number): void {
    this.#lease = lease;
    this.#observe(lease, sentAtMono);
    this.#renewedAtWall = sentAtWall;
    this.#renewedAtMono = sentAtMono;
    if (this.#state === 'leading') this.#armDeadline();
  }

  #observe(lease: Lease, atMono: number): void {
    const rv = lease.metadata.resourceVersion;
    if (rv !== this.#observedRV) {
      this.#observedRV = rv;
      this.#observedAtMono = atMono;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    if (holder !== (this.#observedHolder ?? '')) {
      this.#observedHolder = holder;
      if (holder !== '' && holder !== this.identity) {
        this.#log.info({ leader: holder }, 'New leader observed');
        try {
          this.#opts.onNewLeader?.(holder);
        } catch (err) {
          this.#log.error({ err }, 'onNewLeader threw');
        }
      }
    }
  }

  #desiredSpec(current: LeaseSpec | undefined, nowWall: number): LeaseSpec {
    const heldByUs = current?.holderIdentity === this.identity;
    const now = formatMicroTime(nowWall);
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.timings.leaseDurationMs / 1000),
      acquireTime: heldByUs ? (current?.acquireTime ?? now) : now,
      renewTime: now,
      leaseTransitions: (current?.leaseTransitions ?? 0) + (heldByUs ? 0 : 1),
    };
  }

  /** One acquire-or-renew round trip; errors are logged and reported as 'conflict' (retry later). */
  async #attempt(stopSignal: AbortSignal): Promise<AttemptResult> {
    const sentAtWall = this.#clock.wallNow();
    const sentAtMono = this.#clock.monoNow();
    const leading = this.#state === 'leading';
    // A renew later than the deadline is useless, so bound it by the remaining time.
    const timeoutMs = leading
      ? this.#renewedAtMono + this.timings.renewDeadlineMs - sentAtMono
      : this.timings.renewDeadlineMs;
    const kc = this.#opts.kubeConfig;
    // Cleared when the attempt is done: no timer outlives it.
    const limit = deadline(timeoutMs, stopSignal);
    const signal = limit.signal;
    try {
      // Fast path while leading: update the copy we wrote last; a 409 means someone else wrote.
      if (leading && this.#lease) {
        try {
          const updated = await kubeRequest<Lease>(kc, {
            method: 'PUT',
            path: this.#path,
            body: { ...this.#lease, spec: this.#desiredSpec(this.#lease.spec, sentAtWall) },
            signal,
          });
          this.#recordRenewal(updated, sentAtWall, sentAtMono);
          return 'renewed';
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
      }
      let current: Lease | undefined;
      try {
        current = await kubeRequest<Lease>(kc, { method: 'GET', path: this.#path, signal });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (current === undefined) {
        if (leading) return 'lost';
        try {
          const created = await kubeRequest<Lease>(kc, {
            method: 'POST',
            path: this.#collectionPath,
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: { name: this.#opts.name, namespace: this.#opts.namespace },
              spec: this.#desiredSpec(undefined, sentAtWall),
            },
            signal,
          });
          this.#recordRenewal(created, sentAtWall, sentAtMono);
          return 'acquired';
        } catch (err) {
          if (isConflict(err)) return 'conflict';
          throw err;
        }
      }
      this.#observe(current, this.#clock.monoNow());
      const holder = current.spec?.holderIdentity ?? '';
      if (leading && holder !== this.identity) return 'lost';
      if (
        holder !== this.identity &&
        !leaseExpiredForCandidate({
          holderIdentity: holder,
          leaseDurationSeconds: current.spec?.leaseDurationSeconds,
          observedAtMonoMs: this.#observedAtMono,
          nowMonoMs: this.#clock.monoNow(),
          fallbackDurationMs: this.timings.leaseDurationMs,
        })
      ) {
        return 'held-by-other';
      }
      try {
        const updated = await kubeRequest<Lease>(kc, {
          method: 'PUT',
          path: this.#path,
          body: { ...current, spec: this.#desiredSpec(current.spec, sentAtWall) },
          signal,
        });
        this.#recordRenewal(updated, sentAtWall, sentAtMono);
        return leading ? 'renewed' : 'acquired';
      } catch (err) {
        if (isConflict(err)) return 'conflict';
        throw err;
      }
    } catch (err) {
      if (!stopSignal.aborted) this.#log.warn({ err, leading }, leading ? 'Lease renew failed' : 'Lease acquire failed');
      return 'conflict';
    } finally {
      limit.clear();
    }
  }

  /** Hands the lease over: empty holder, 1 s duration; the resourceVersion guard avoids clobbering a new leader. */
  async #release(): Promise<void> {
    const lease = this.#lease;
    if (!lease || lease.spec?.holderIdentity !== this.identity) return;
    const now = formatMicroTime(this.#clock.wallNow());
    try {
      await kubeRequest<Lease>(this.#opts.kubeConfig, {
        method: 'PUT',
        path: this.#path,
        body: {
          ...lease,
          spec: {
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: lease.spec.leaseTransitions ?? 0,
          },
        },
        timeoutMs: this.timings.renewDeadlineMs,
      });
      this.#log.info('Released lease');
    } catch (err) {
      this.#log.warn({ err }, 'Lease release failed; a standby takes over after the lease duration');
    }
  }
}
