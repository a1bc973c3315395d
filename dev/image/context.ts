// The Docker build context as .dockerignore defines it. .dockerignore is the single source of which files
// of the checkout go into the image: `docker build` reads it, and the offline build (build.ts) walks the
// checkout through the same rules, so both put the same src/ files into /app.
import { readdirSync, readFileSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

export type ContextFilter = (path: string) => boolean;

function patternRegex(pattern: string): RegExp {
  return new RegExp(
    '^' +
      pattern
        .replace(/^\//, '')
        .replace(/\/$/, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\u0000')
        .replace(/\*\*/g, '\u0001')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replaceAll('\u0000', '(?:.*/)?')
        .replaceAll('\u0001', '.*') +
      '$',
  );
}

/**
 * The filter of a .dockerignore text, for the pattern forms docker supports: `*`, `?`, `**`, `!` exceptions,
 * the last matching pattern winning, and a pattern that matches a directory covering everything below it.
 */
export function dockerignoreFilter(text: string): ContextFilter {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => (line.startsWith('!') ? { include: true, re: patternRegex(line.slice(1).trim()) } : { include: false, re: patternRegex(line) }));
  return (path: string): boolean => {
    const parts = path.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let included = true;
    for (const rule of rules) if (prefixes.some((p) => rule.re.test(p))) included = rule.include;
    return included;
  };
}

export function readContextFilter(root: string): ContextFilter {
  return dockerignoreFilter(readFileSync(join(root, '.dockerignore'), 'utf8'));
}

export interface ContextFile {
  /** Path relative to the checkout, `/`-separated. */
  readonly path: string;
  readonly type: 'file' | 'symlink';
}

/** Every file and symlink under `dir` (relative to root) that the build context holds, sorted by path. */
export function contextFilesUnder(root: string, dir: string, filter: ContextFilter = readContextFilter(root)): ContextFile[] {
  const found: ContextFile[] = [];
  const walk = (relative: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(join(root, relative), { withFileTypes: true });
    } catch (error) {
      throw new Error(`build context: cannot read ${relative}: ${(error as Error).message}`, { cause: error });
    }
    for (const entry of entries) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (!filter(path)) continue;
      else if (entry.isFile()) found.push({ path, type: 'file' });
      else if (entry.isSymbolicLink()) found.push({ path, type: 'symlink' });
      else throw new Error(`build context: ${path} is neither a file, a directory nor a symlink`);
    }
  };
  walk(dir.replace(/\/$/, ''));
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
