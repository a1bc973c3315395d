/** Where the runner resolves relative paths; a relative path is checked as if it were below it. */
export const WORKSPACE = '/workspace';

// Anything that could make a path look different from what it is: //, /./, /../, trailing / or /., /..
const NEEDS_NORMALISING = /\/\/|\/\.|\/$/;

/**
 * Lexical normalisation, as the kernel would resolve the path without symlinks: relative paths are
 * resolved against /workspace, empty and `.` segments vanish, `..` removes the previous segment and never
 * climbs above `/`. A leading `//` is an ordinary `/` (POSIX lets `//` be special; Linux does not).
 */
export function normalisePath(path: string): string {
  const abs = path.startsWith('/') ? path : `${WORKSPACE}/${path}`;
  if (!NEEDS_NORMALISING.test(abs)) return abs;
  const out: string[] = [];
  for (const seg of abs.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return '/' + out.join('/');
}

/** Whether a normalised path is the workspace or below it. */
export function isInWorkspace(normalised: string): boolean {
  return normalised === WORKSPACE || normalised.startsWith(`${WORKSPACE}/`);
}
