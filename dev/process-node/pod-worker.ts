// The lifecycle of one Pod on the process node: Pending → Running → Succeeded/Failed, one local process in
// the Pod's own network namespace, at most once. Status is the source of truth across node restarts: a Pod
// whose container may already have run (any containerStatuses, or our started marker) is never started
// again; it is marked Failed (NodeRestarted).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { isAbsolute } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorCode, getObject } from '../../src/runtime/kube-http.ts';
import type { KubeObject, ResourceType } from '../../src/runtime/resource.ts';
import {
  buildEnv,
  expandCommand,
  pathRewrites,
  resolveUser,
  rewritePath,
  workingDirectory,
  type ProcessUser,
} from './container-config.ts';
import type { EgressPolicy } from './egress-policy.ts';
import { reachableExecutable, readableByOthers } from './host-exec.ts';
import { matchImage, resolveCommand, type ImageMapping } from './image-map.ts';
import { podLayout, type PodLayout } from './pod-layout.ts';
import { killNamespaceProcesses, type PodNetworks, type PodSandbox } from './pod-network.ts';
import { buildStatus, deletePodObject, kubeTime, patchPodStatus } from './pod-status.ts';
import { isTerminalPhase, podRef, type ContainerSpec, type ContainerState, type PodLike, type PodPhase, type PodStatusLike } from './pod-types.ts';
import { terminationMessage } from './termination-message.ts';
import { NotYetAvailableError, PodConfigError, materializeVolumes, type ConfigMapLike } from './volumes.ts';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', namespaced: true, kind: 'ConfigMap' };
const DEFAULT_GRACE_SECONDS = 30;
const RETRY_MOUNT_MS = 1000;
/** Exit code reported when the process is unknown or could not be started (as container runtimes do). */
const EXIT_START_ERROR = 128;
const EXIT_KILLED = 137;

export interface WorkerContext {
  readonly kc: KubeConfig;
  readonly stateDir: string;
  readonly binDir: string;
  readonly imageMap: readonly ImageMapping[];
  readonly apiServer: { readonly host: string; readonly port: number };
  readonly networks: PodNetworks;
  readonly egress: EgressPolicy | undefined;
  readonly tools: { readonly nsenter: string; readonly setpriv: string };
  readonly log: Logger;
  /** Called when a container process started; latency from the first sight of the bound Pod. */
  readonly onStarted?: (pod: PodLike, latencyMs: number) => void;
}

/** The Pod ended (deleted, deadline, node shutdown) before a container could be prepared. */
class StartAborted extends Error {}

type TerminatedState = NonNullable<ContainerState['terminated']>;

type KillReason = 'DeadlineExceeded' | 'Deleted' | 'NodeShutdown' | 'PodGone';

interface Outcome {
  phase: PodPhase;
  podReason?: string;
  podMessage?: string;
  state: ContainerState;
}

function signalNumber(signal: NodeJS.Signals): number {
  return osConstants.signals[signal] ?? 9;
}

export class PodWorker {
  readonly uid: string;
  #pod: PodLike;
  readonly #ctx: WorkerContext;
  readonly #log: Logger;
  readonly #layout: PodLayout;
  readonly #firstSeen = performance.now();
  #phase: 'new' | 'starting' | 'running' | 'finished' = 'new';
  #chain: Promise<void> = Promise.resolve();
  #child: ChildProcess | undefined;
  /** Terminated init containers, in order (reported as initContainerStatuses). */
  readonly #initStatuses: { name: string; image: string; state: ContainerState }[] = [];
  #sandbox: PodSandbox | undefined;
  #killReason: KillReason | undefined;
  readonly #startAbort = new AbortController();
  #deadlineTimer: NodeJS.Timeout | undefined;
  #killTimer: NodeJS.Timeout | undefined;
  #deleting = false;
  #objectDeleted = false;
  #gone = false;
  #shuttingDown = false;
  #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(pod: PodLike, ctx: WorkerContext) {
    this.uid = pod.metadata.uid ?? '';
    this.#pod = pod;
    this.#ctx = ctx;
    this.#log = ctx.log.child({ pod: podRef(pod), uid: this.uid });
    this.#layout = podLayout(ctx.stateDir, this.uid);
    this.#done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Resolves once the Pod reached a terminal state on this node (or was found terminal). */
  get done(): Promise<void> {
    return this.#done;
  }

  get layout(): PodLayout {
    return this.#layout;
  }

  /** A new version of the Pod from the watch. */
  update(pod: PodLike): void {
    this.#pod = pod;
    if (pod.metadata.deletionTimestamp !== undefined && !this.#deleting) {
      this.#deleting = true;
      const grace = pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
      this.#terminate('Deleted', grace);
    }
    this.#enqueue(() => this.#sync());
  }

  /** The Pod object is gone (deleted with grace 0 or by us): kill at once and remove its host directory. */
  gone(): void {
    this.#gone = true;
    this.#objectDeleted = true;
    this.#terminate('PodGone', 0);
    if (this.#phase === 'new') this.#finishNow();
    void this.#done.then(() => rmSync(this.#layout.dir, { recursive: true, force: true }));
  }

  /** Node shutdown: kill the process (grace as given) and record the Pod as Failed (NodeShutdown). */
  async shutdown(graceSeconds: number): Promise<void> {
    this.#shuttingDown = true;
    this.#terminate('NodeShutdown', graceSeconds);
    if (this.#phase === 'new') this.#finishNow();
    await this.#done;
  }

  #enqueue(step: () => Promise<void>): void {
    this.#chain = this.#chain.then(step).catch((err: unknown) => this.#log.error({ err }, 'Pod sync failed'));
  }

  #finishNow(): void {
    this.#phase = 'finished';
    this.#resolveDone();
  }

  async #sync(): Promise<void> {
    const pod = this.#pod;
    if (this.#phase === 'new') {
      if (isTerminalPhase(pod.status?.phase)) {
        this.#finishNow();
      } else if ((pod.status?.containerStatuses?.length ?? 0) > 0 || existsSync(this.#layout.startedMarker)) {
        await this.#markNodeRestarted();
      } else if (pod.metadata.deletionTimestamp !== undefined || this.#killReason !== undefined) {
        this.#finishNow();
      } else {
        this.#phase = 'starting';
        // Not awaited: a start may wait for a ConfigMap; later updates (deletion) must still be seen.
        void this.#start().catch((err: unknown) => {
          this.#log.error({ err }, 'Pod start failed unexpectedly');
          if (this.#child !== undefined) return; // the process runs; its exit finishes the Pod
          const message = err instanceof Error ? err.message : String(err);
          void this.#finish({ phase: 'Failed', podReason: 'CreateContainerError', podMessage: message, state: { terminated: { exitCode: EXIT_START_ERROR, reason: 'CreateContainerError', message, finishedAt: kubeTime() } } }, pod.spec.containers[0]);
        });
        return;
      }
    }
    if (this.#phase === 'finished' && this.#pod.metadata.deletionTimestamp !== undefined && !this.#objectDeleted) {
      await this.#deleteObject();
    }
  }

  async #markNodeRestarted(): Promise<void> {
    const previous = this.#pod.status?.containerStatuses?.[0];
    const container = this.#pod.spec.containers[0];
    this.#log.warn('Pod was (possibly) started by an earlier run of this node; marking it Failed, never rerunning it');
    const startedAt = previous?.state.running?.startedAt;
    await this.#writeStatus({
      phase: 'Failed',
      podReason: 'NodeRestarted',
      podMessage: 'the process node restarted while this Pod was active; its container is never run twice',
      state: {
        terminated: {
          exitCode: EXIT_KILLED,
          reason: 'NodeRestarted',
          message: 'the process node restarted while this container was (possibly) running',
          ...(startedAt ? { startedAt } : {}),
          finishedAt: kubeTime(),
        },
      },
    }, container);
    this.#finishNow();
    await this.#sync();
  }

  #terminate(reason: KillReason, graceSeconds: number): void {
    this.#killReason ??= reason;
    this.#startAbort.abort();
    const child = this.#child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    this.#log.info({ reason, graceSeconds }, 'Killing the container');
    const kill = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // group already gone
      }
      if (this.#sandbox) killNamespaceProcesses(this.#sandbox.path, signal);
    };
    if (graceSeconds <= 0) {
      kill('SIGKILL');
      return;
    }
    kill('SIGTERM');
    clearTimeout(this.#killTimer);
    this.#killTimer = setTimeout(() => kill('SIGKILL'), graceSeconds * 1000);
  }

  #armDeadline(startTime: string): void {
    const seconds = this.#pod.spec.activeDeadlineSeconds;
    if (seconds === undefined) return;
    const remaining = Date.parse(startTime) + seconds * 1000 - Date.now();
    this.#deadlineTimer = setTimeout(() => {
      this.#log.info({ activeDeadlineSeconds: seconds }, 'Pod exceeded activeDeadlineSeconds');
      this.#terminate('DeadlineExceeded', this.#pod.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS);
      if (this.#child === undefined) this.#startAbort.abort();
    }, Math.max(remaining, 0));
  }

  async #getConfigMap(name: string): Promise<ConfigMapLike | undefined> {
    return getObject<KubeObject & ConfigMapLike>(this.#ctx.kc, CONFIGMAPS, { namespace: this.#pod.metadata.namespace, name });
  }

  /** Outcome for a Pod that ended before its process started. */
  #abortedOutcome(): Outcome {
    const reason = this.#killReason;
    if (reason === 'DeadlineExceeded') {
      return {
        phase: 'Failed',
        podReason: 'DeadlineExceeded',
        podMessage: 'Pod was active on the node longer than the specified deadline',
        state: { terminated: { exitCode: EXIT_START_ERROR, reason: 'DeadlineExceeded', finishedAt: kubeTime() } },
      };
    }
    return {
      phase: 'Failed',
      ...(reason === 'NodeShutdown' ? { podReason: 'NodeShutdown', podMessage: 'the process node shut down' } : {}),
      state: { terminated: { exitCode: EXIT_START_ERROR, reason: 'ContainerCannotRun', message: 'the Pod ended before its container started', finishedAt: kubeTime() } },
    };
  }

  async #start(): Promise<void> {
    const pod = this.#pod;
    const startTime = pod.status?.startTime ?? kubeTime();
    const container = pod.spec.containers[0];
    const failConfig = async (reason: string, message: string): Promise<void> => {
      this.#log.warn({ reason, message }, 'Pod cannot run');
      await this.#finish({
        phase: 'Failed',
        podReason: reason,
        podMessage: message,
        state: { terminated: { exitCode: EXIT_START_ERROR, reason, message, finishedAt: kubeTime() } },
      }, container);
    };
    this.#armDeadline(startTime);
    if (container === undefined || pod.spec.containers.length !== 1 || (pod.spec.ephemeralContainers?.length ?? 0) > 0) {
      await failConfig('Unsupported', 'spec.containers: the process node runs Pods with exactly one container (after any init containers) and no ephemeral containers');
      return;
    }
    const inits = pod.spec.initContainers ?? [];
    const field = `spec.containers[0] (${container.name})`;
    const users: ProcessUser[] = [];
    // Every image must be mapped and every user allowed before anything runs (a kubelet would fail the Pod too).
    for (const [i, c] of [...inits, container].entries()) {
      const f = i < inits.length ? `spec.initContainers[${i}] (${c.name})` : field;
      const resolved = resolveCommand(this.#ctx.imageMap, c);
      if (!resolved.ok && resolved.reason === 'ImageNotMapped') {
        await failConfig('ImageNotMapped', `${f}.image: ${resolved.message}`);
        return;
      }
      try {
        users.push(resolveUser(pod, c, f));
      } catch (err) {
        if (err instanceof PodConfigError) return failConfig(err.reason, err.message);
        throw err;
      }
    }
    const user = users[users.length - 1]!;
    const resolved = resolveCommand(this.#ctx.imageMap, container);

    // Pending with a container status: from here on a restarted node treats the Pod as possibly started.
    if (!(await this.#writePending(container, startTime))) {
      this.#finishNow(); // the Pod is gone or was replaced: nothing to run
      return;
    }

    // Init containers run one after the other, each to completion; the first that fails fails the Pod.
    for (const [i, init] of inits.entries()) {
      const f = `spec.initContainers[${i}] (${init.name})`;
      let preparedInit: { argv: string[]; env: Record<string, string>; cwd: string };
      try {
        preparedInit = await this.#prepareWhenAvailable(init, users[i]!, f);
      } catch (err) {
        if (err instanceof PodConfigError) return failConfig(err.reason, err.message);
        if (err instanceof StartAborted) return this.#finish(this.#abortedOutcome(), container);
        return failConfig('CreateContainerError', err instanceof Error ? err.message : String(err));
      }
      const terminated = await this.#runInit(init, users[i]!, preparedInit);
      this.#initStatuses.push({ name: init.name, image: init.image ?? '', state: { terminated } });
      if (terminated.exitCode !== 0 || this.#killReason !== undefined) {
        if (this.#killReason !== undefined) return this.#finish(this.#abortedOutcome(), container);
        return this.#finish({ phase: 'Failed', state: { waiting: { reason: 'PodInitializing' } } }, container);
      }
      await this.#writeStatus({ phase: 'Pending', state: { waiting: { reason: 'PodInitializing' } } }, container);
    }

    let prepared: { argv: string[]; env: Record<string, string>; cwd: string } | undefined;
    try {
      prepared = await this.#prepareWhenAvailable(container, user, field);
    } catch (err) {
      if (err instanceof PodConfigError) return failConfig(err.reason, err.message);
      if (err instanceof StartAborted) return this.#finish(this.#abortedOutcome(), container);
      return failConfig('CreateContainerError', err instanceof Error ? err.message : String(err));
    }
    if (this.#startAbort.signal.aborted) return this.#finish(this.#abortedOutcome(), container);
    if (!resolved.ok) return failConfig(resolved.reason, `${field}: ${resolved.message}`);
    this.#spawn(container, user, prepared);
  }

  /** #prepare, waiting (as a kubelet does) for referenced objects that do not exist yet; StartAborted when the Pod ends meanwhile. */
  async #prepareWhenAvailable(container: ContainerSpec, user: ProcessUser, field: string): Promise<{ argv: string[]; env: Record<string, string>; cwd: string }> {
    for (;;) {
      if (this.#startAbort.signal.aborted) throw new StartAborted();
      try {
        return await this.#prepare(container, user, field);
      } catch (err) {
        if (err instanceof NotYetAvailableError) {
          this.#log.info({ err: err.message }, 'Waiting for a referenced object');
          await new Promise((r) => setTimeout(r, RETRY_MOUNT_MS));
          continue;
        }
        throw err;
      }
    }
  }

  /** Runs one init container to completion (kills reach it like the main container); its terminated state. */
  #runInit(container: ContainerSpec, user: ProcessUser, prepared: { argv: string[]; env: Record<string, string>; cwd: string }): Promise<TerminatedState> {
    return new Promise((resolveInit) => {
      const startedAt = kubeTime();
      let child: ChildProcess;
      try {
        child = this.#spawnProcess(container, user, prepared);
      } catch (e) {
        resolveInit({ exitCode: EXIT_START_ERROR, reason: 'StartError', message: (e as Error).message, finishedAt: kubeTime() });
        return;
      }
      let ended = false;
      child.once('error', (e) => {
        if (ended) return;
        ended = true;
        resolveInit({ exitCode: EXIT_START_ERROR, reason: 'StartError', message: e.message, finishedAt: kubeTime() });
      });
      child.once('spawn', () => {
        this.#log.info({ pid: child.pid, container: container.name, argv: prepared.argv }, 'Init container started');
        if (this.#killReason !== undefined) this.#terminate(this.#killReason, 0);
      });
      child.once('close', (code, signal) => {
        if (ended) return;
        ended = true;
        this.#child = undefined;
        const exitCode = code ?? (signal ? 128 + signalNumber(signal) : EXIT_START_ERROR);
        const message = terminationMessage({
          file: this.#layout.terminationLog(container.name),
          policy: container.terminationMessagePolicy,
          exitCode,
          logs: [this.#layout.stderrLog(container.name), this.#layout.stdoutLog(container.name)],
        });
        this.#log.info({ container: container.name, exitCode, signal }, 'Init container exited');
        resolveInit({ exitCode, ...(signal ? { signal: signalNumber(signal) } : {}), reason: exitCode === 0 ? 'Completed' : 'Error', ...(message !== '' ? { message } : {}), startedAt, finishedAt: kubeTime() });
      });
    });
  }

  async #prepare(container: ContainerSpec, user: ProcessUser, field: string): Promise<{ argv: string[]; env: Record<string, string>; cwd: string }> {
    const layout = this.#layout;
    const pod = this.#pod;
    mkdirSync(layout.dir, { recursive: true, mode: 0o711 });
    chmodSync(layout.dir, 0o711);
    mkdirSync(layout.rootfs, { recursive: true, mode: 0o755 });
    const containerDir = layout.containerDir(container.name);
    mkdirSync(containerDir, { recursive: true, mode: 0o755 });
    chmodSync(containerDir, 0o755);
    const termLog = layout.terminationLog(container.name);
    writeFileSync(termLog, '', { mode: 0o644 });
    chownSync(termLog, user.uid, user.gid);

    if (this.#sandbox === undefined) {
      this.#sandbox = await this.#ctx.networks.create(this.uid);
      if (this.#ctx.egress) await this.#ctx.egress.apply(pod, this.#sandbox);
    }
    const podIP = this.#sandbox.podIP;
    const volumeDirs = await materializeVolumes({
      pod,
      layout,
      uid: user.uid,
      gid: user.fsGroup,
      podIP,
      getConfigMap: (name) => this.#getConfigMap(name),
    });
    const rewrites = pathRewrites(container, volumeDirs, termLog, field);
    const env = await buildEnv({ pod, podIP, apiServer: this.#ctx.apiServer, getConfigMap: (name) => this.#getConfigMap(name) }, container, rewrites, field);
    // The image's ENV (from the image map) under the container's own env, as a container runtime layers them.
    const own = new Set((container.env ?? []).map((e) => e.name));
    for (const [k, v] of Object.entries(matchImage(this.#ctx.imageMap, container.image ?? '')?.env ?? {})) if (!own.has(k)) env[k] = v;
    const expanded = expandCommand(container, env);
    const resolved = resolveCommand(this.#ctx.imageMap, expanded);
    if (!resolved.ok) throw new PodConfigError(resolved.reason, `${field}: ${resolved.message}`);
    const [exe, ...prefixRest] = resolved.prefix;
    for (const path of prefixRest) {
      // e.g. <repo>/src/cli/main.ts: the Pod's user must be able to read it, or the run fails obscurely.
      if (isAbsolute(path) && existsSync(path) && !readableByOthers(path)) {
        throw new PodConfigError('StartError', `${field}: image map path ${path} is not readable by uid ${user.uid} (the file needs o+r, every directory above it o+x)`);
      }
    }
    const argv = [reachableExecutable(exe!, this.#ctx.binDir), ...prefixRest, ...resolved.args.map((a) => rewritePath(a, rewrites))];
    const cwd = workingDirectory(container, layout, rewrites);
    mkdirSync(cwd, { recursive: true, mode: 0o755 });
    return { argv, env, cwd };
  }

  /** Starts a container's process in the Pod's network namespace as its user; it becomes #child (the target of kills). */
  #spawnProcess(container: ContainerSpec, user: ProcessUser, prepared: { argv: string[]; env: Record<string, string>; cwd: string }): ChildProcess {
    const { nsenter, setpriv } = this.#ctx.tools;
    const sandbox = this.#sandbox!;
    writeFileSync(this.#layout.startedMarker, `${new Date().toISOString()}\n`);
    const out = openSync(this.#layout.stdoutLog(container.name), 'a', 0o640);
    const err = openSync(this.#layout.stderrLog(container.name), 'a', 0o640);
    const args = [
      `--net=${sandbox.path}`,
      '--',
      setpriv,
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      `--groups=${user.groups.join(',')}`,
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs', // always, whatever allowPrivilegeEscalation says: no setuid escalation on the host
      '--',
      ...prepared.argv,
    ];
    let child: ChildProcess;
    try {
      child = spawn(nsenter, args, { cwd: prepared.cwd, env: prepared.env, detached: true, stdio: ['ignore', out, err] });
    } finally {
      closeSync(out);
      closeSync(err);
    }
    this.#child = child;
    return child;
  }

  #spawn(container: ContainerSpec, user: ProcessUser, prepared: { argv: string[]; env: Record<string, string>; cwd: string }): void {
    const child = this.#spawnProcess(container, user, prepared);
    const startedAt = kubeTime();
    let spawned = false;
    let ended = false;
    child.once('error', (e) => {
      // Without a 'spawn' there will be no 'close' to wait for.
      if (spawned || ended) return;
      ended = true;
      void this.#finish({
        phase: 'Failed',
        state: { terminated: { exitCode: EXIT_START_ERROR, reason: 'StartError', message: e.message, finishedAt: kubeTime() } },
      }, container);
    });
    child.once('spawn', () => {
      spawned = true;
      this.#phase = 'running';
      const latencyMs = performance.now() - this.#firstSeen;
      this.#log.info({ pid: child.pid, argv: prepared.argv, startLatencyMs: Math.round(latencyMs) }, 'Container started');
      this.#ctx.onStarted?.(this.#pod, latencyMs);
      // A kill requested while spawning (deletion, deadline) applies now that there is a process group.
      if (this.#killReason !== undefined) this.#terminate(this.#killReason, 0);
      this.#enqueue(async () => {
        if (this.#phase !== 'running' || this.#killReason !== undefined) return;
        await this.#writeStatus({
          phase: 'Running',
          state: { running: { startedAt } },
        }, container, child.pid);
      });
    });
    child.once('close', (code, signal) => {
      const exitCode = code ?? (signal ? 128 + signalNumber(signal) : EXIT_START_ERROR);
      const finishedAt = kubeTime();
      if (ended) return;
      ended = true;
      const message = terminationMessage({
        file: this.#layout.terminationLog(container.name),
        policy: container.terminationMessagePolicy,
        exitCode,
        logs: [this.#layout.stderrLog(container.name), this.#layout.stdoutLog(container.name)],
      });
      const terminated = {
        exitCode,
        ...(signal ? { signal: signalNumber(signal) } : {}),
        reason: exitCode === 0 ? 'Completed' : 'Error',
        ...(message !== '' ? { message } : {}),
        startedAt,
        finishedAt,
      };
      this.#log.info({ exitCode, signal, killReason: this.#killReason }, 'Container exited');
      let outcome: Outcome;
      if (this.#killReason === 'DeadlineExceeded') {
        outcome = {
          phase: 'Failed',
          podReason: 'DeadlineExceeded',
          podMessage: 'Pod was active on the node longer than the specified deadline',
          state: { terminated: { ...terminated, reason: 'DeadlineExceeded' } },
        };
      } else if (this.#killReason === 'NodeShutdown') {
        outcome = { phase: 'Failed', podReason: 'NodeShutdown', podMessage: 'the process node shut down', state: { terminated } };
      } else {
        outcome = { phase: exitCode === 0 ? 'Succeeded' : 'Failed', state: { terminated } };
      }
      void this.#finish(outcome, container);
    });
  }

  async #finish(outcome: Outcome, container: ContainerSpec | undefined): Promise<void> {
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#killTimer);
    if (this.#sandbox) {
      await this.#ctx.networks.destroy(this.#sandbox.name, this.#sandbox.slot).catch((err: unknown) => this.#log.warn({ err }, 'Could not remove the network namespace'));
    }
    this.#enqueue(async () => {
      if (!this.#gone) await this.#writeStatus(outcome, container);
      this.#finishNow();
      await this.#sync();
    });
  }

  async #writePending(container: ContainerSpec, startTime: string): Promise<boolean> {
    return this.#writeStatus({ phase: 'Pending', state: { waiting: { reason: 'ContainerCreating' } } }, container, undefined, startTime);
  }

  /** Writes the status with a few retries; false when the Pod is gone (404) or was replaced (409). */
  async #writeStatus(outcome: Outcome, container: ContainerSpec | undefined, pid?: number, startTime?: string): Promise<boolean> {
    const pod = this.#pod;
    const status: PodStatusLike = buildStatus({
      phase: outcome.phase,
      ...(outcome.podReason ? { reason: outcome.podReason } : {}),
      ...(outcome.podMessage ? { message: outcome.podMessage } : {}),
      startTime: startTime ?? pod.status?.startTime ?? kubeTime(),
      podIP: this.#sandbox?.podIP ?? pod.status?.podIP,
      container: {
        name: container?.name ?? 'unknown',
        image: container?.image ?? '',
        ...(pid !== undefined ? { containerID: `process://${pid}` } : this.#child?.pid !== undefined ? { containerID: `process://${this.#child.pid}` } : {}),
        state: outcome.state,
      },
      initContainers: this.#initStatuses,
    });
    for (let attempt = 0; ; attempt++) {
      if (this.#gone) return false;
      try {
        const updated = await patchPodStatus(this.#ctx.kc, pod, status);
        if (updated.metadata.uid === this.uid) this.#pod = { ...this.#pod, status: updated.status ?? {} };
        return true;
      } catch (err) {
        const code = errorCode(err);
        if (code === 404 || code === 409) {
          this.#log.info({ code }, 'Pod gone or replaced; status not written');
          return false;
        }
        // Keep trying while the node runs (kubelet does too); give up soon once it is shutting down.
        if (this.#shuttingDown && attempt >= 3) {
          this.#log.error({ err, phase: outcome.phase }, 'Could not write the Pod status');
          return false;
        }
        this.#log.warn({ err, attempt }, 'Pod status write failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** attempt, 5000)));
      }
    }
  }

  async #deleteObject(): Promise<void> {
    try {
      await deletePodObject(this.#ctx.kc, this.#pod);
      this.#objectDeleted = true;
    } catch (err) {
      const code = errorCode(err);
      if (code === 404 || code === 409) this.#objectDeleted = true;
      else this.#log.warn({ err }, 'Could not delete the terminated Pod object');
    }
  }
}
