// Where one Pod lives on the host: <stateDir>/pods/<pod uid>/. Directories the Pod's user must traverse are
// 0711 root; only what the Pod may write (emptyDirs, its termination-message file) is owned by its user.
import { join } from 'node:path';

export interface PodLayout {
  readonly dir: string;
  /** Exists once the container's process was (about to be) started: a restarted node never reruns it. */
  readonly startedMarker: string;
  readonly rootfs: string;
  readonly volume: (name: string) => string;
  readonly containerDir: (container: string) => string;
  readonly terminationLog: (container: string) => string;
  readonly stdoutLog: (container: string) => string;
  readonly stderrLog: (container: string) => string;
}

export function podsDir(stateDir: string): string {
  return join(stateDir, 'pods');
}

export function podLayout(stateDir: string, podUid: string): PodLayout {
  if (!/^[A-Za-z0-9-]+$/.test(podUid)) throw new Error(`metadata.uid ${JSON.stringify(podUid)} is not a valid UID`);
  const dir = join(podsDir(stateDir), podUid);
  const containerDir = (container: string): string => join(dir, 'containers', container);
  return {
    dir,
    startedMarker: join(dir, 'started'),
    rootfs: join(dir, 'rootfs'),
    volume: (name) => join(dir, 'volumes', name),
    containerDir,
    terminationLog: (container) => join(containerDir(container), 'termination-log'),
    stdoutLog: (container) => join(containerDir(container), 'stdout.log'),
    stderrLog: (container) => join(containerDir(container), 'stderr.log'),
  };
}
