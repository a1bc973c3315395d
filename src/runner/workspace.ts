import { lstatSync, realpathSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { stop } from './codes.ts';

/** The workspace mount path in the Pod contract; absolute arguments below it mean the same as relative ones. */
export const CANONICAL_WORKSPACE = '/workspace';
/** Where the runner and tools keep declared outputs (e.g. .m87/test-report.xml); no path argument may name it. */
export const RESERVED_DIR = '.m87';
/** The receipt's artifact paths are at most this long. */
export const MAX_RELATIVE_PATH = 512;

// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export interface ResolvedPath {
  /** Workspace-relative, normalised, never empty, never starting with `..`. */
  relative: string;
  /** Absolute path below the workspace's real path. */
  absolute: string;
}

function within(base: string, p: string): boolean {
  return p === base || p.startsWith(base === '/' ? '/' : base + '/');
}

/**
 * The job workspace: an emptyDir at $M87_WORKSPACE. Paths are resolved lexically against its real path,
 * then every existing component is checked so that no symlink leads outside it.
 */
export class Workspace {
  /** As configured ($M87_WORKSPACE). */
  readonly configured: string;
  /** Its real path (symlinks resolved). */
  readonly root: string;

  constructor(configured: string) {
    this.configured = posix.resolve(configured);
    let root: string;
    let isDir: boolean;
    try {
      root = realpathSync(this.configured);
      isDir = statSync(root).isDirectory();
    } catch (e) {
      stop('WORKSPACE_UNAVAILABLE', `M87_WORKSPACE ${configured} is not accessible: ${(e as Error).message}`);
    }
    if (!isDir) stop('WORKSPACE_UNAVAILABLE', `M87_WORKSPACE ${configured} is not a directory`);
    this.root = root;
  }

  /**
   * Lexical resolution: relative paths are below the workspace; absolute paths must be below it (under its
   * configured path, its real path or /workspace). `..` that climbs out, NUL and control characters are refused.
   */
  resolveLexically(arg: string, argName: string, allowReserved = false): ResolvedPath {
    if (arg.length === 0) stop('PATH_INVALID', `${argName}: empty path`);
    if (CONTROL_CHARS.test(arg)) stop('PATH_INVALID', `${argName}: path contains control characters`);
    let relative: string;
    if (arg.startsWith('/')) {
      const abs = posix.normalize(arg);
      const base = [this.configured, this.root, CANONICAL_WORKSPACE].find((b) => within(b, abs));
      if (base === undefined) stop('PATH_ESCAPE', `${argName}: ${JSON.stringify(arg)} is outside the workspace`);
      relative = posix.relative(base, abs);
    } else {
      relative = posix.normalize(arg);
    }
    relative = relative.replace(/\/+$/, '');
    if (relative === '' || relative === '.') stop('PATH_INVALID', `${argName}: ${JSON.stringify(arg)} names the workspace itself`);
    if (relative === '..' || relative.startsWith('../') || posix.isAbsolute(relative)) {
      stop('PATH_ESCAPE', `${argName}: ${JSON.stringify(arg)} climbs out of the workspace`);
    }
    if (relative.length > MAX_RELATIVE_PATH) stop('PATH_INVALID', `${argName}: path is longer than ${MAX_RELATIVE_PATH} characters`);
    if (!allowReserved && (relative === RESERVED_DIR || relative.startsWith(RESERVED_DIR + '/'))) {
      stop('PATH_RESERVED', `${argName}: ${RESERVED_DIR}/ is reserved for the runner`);
    }
    return { relative, absolute: posix.join(this.root, relative) };
  }

  /**
   * Re-validation against the filesystem as it is now: every existing ancestor must resolve (realpath) to a
   * directory inside the workspace, and an existing target must not be a symlink at all.
   */
  revalidate(p: ResolvedPath, argName: string): void {
    const parts = p.relative.split('/');
    let current = this.root;
    for (let i = 0; i < parts.length; i++) {
      current = posix.join(current, parts[i]!);
      let st;
      try {
        st = lstatSync(current);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // the rest will be created
        stop('PATH_INVALID', `${argName}: cannot inspect ${posix.relative(this.root, current)}: ${(e as Error).message}`);
      }
      const last = i === parts.length - 1;
      if (st.isSymbolicLink()) {
        if (last) stop('PATH_SYMLINK_ESCAPE', `${argName}: ${p.relative} is a symlink`);
        let real: string;
        try {
          real = realpathSync(current);
        } catch {
          stop('PATH_SYMLINK_ESCAPE', `${argName}: ${posix.relative(this.root, current)} is a dangling symlink`);
        }
        if (!within(this.root, real)) stop('PATH_SYMLINK_ESCAPE', `${argName}: ${posix.relative(this.root, current)} is a symlink leading outside the workspace`);
        current = real;
        continue;
      }
      if (!last && !st.isDirectory()) stop('PATH_INVALID', `${argName}: ${posix.relative(this.root, current)} is not a directory`);
    }
  }

  resolve(arg: string, argName: string, allowReserved = false): ResolvedPath {
    const p = this.resolveLexically(arg, argName, allowReserved);
    this.revalidate(p, argName);
    return p;
  }
}
