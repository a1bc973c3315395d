// Stand-ins for the shipped tool images on the process node (README, "Step Pods"): a tool image maps to the
// runner delivered as this checkout's CLI, and the tool's programs are the host's, found through the
// mapping's PATH — git and curl (Debian's), m87-apply-patch (dev/image/tool-bin) and, for run-tests, a Python venv
// of the host's CPython with pytest installed from a wheel cached once from PyPI.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheDir } from '../cluster/binaries.ts';
import { CURL_TOOL_IMAGE, GIT_TOOL_IMAGE, PYTEST_TOOL_IMAGE } from '../../src/tool-catalogue/default-catalogue.ts';
import { PYTEST_REQUIREMENT } from '../image/tool-images.ts';
import { REPO_ROOT, toolImageMapping, type ImageMapping } from './image-map.ts';

const HOST_PATH = '/usr/local/bin:/usr/bin:/bin';

const repository = (image: string): string => image.slice(0, image.indexOf('@'));

/** A venv of /usr/bin/python3 with pytest under `dir` (readable by the Pod user); pip downloads into the m87 cache once. */
export function ensurePytestVenv(dir: string): string {
  const venv = join(dir, 'python-pytest');
  if (existsSync(join(venv, 'bin', 'pytest'))) return venv;
  const wheels = join(cacheDir(), 'tools', 'wheels');
  mkdirSync(wheels, { recursive: true });
  if (!readdirSync(wheels).some((f) => f.startsWith('pytest-'))) {
    execFileSync('/usr/bin/python3', ['-m', 'pip', 'download', '--quiet', '--only-binary=:all:', '-d', wheels, PYTEST_REQUIREMENT], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  execFileSync('/usr/bin/python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(join(venv, 'bin', 'pip'), ['install', '--quiet', '--no-index', '--find-links', wheels, PYTEST_REQUIREMENT], { stdio: ['ignore', 'ignore', 'inherit'] });
  return venv;
}

/**
 * Image mappings for the shipped tool images (by repository, any digest), with their stand-ins prepared
 * under `dir` (made world-readable: the Pod user must reach them).
 */
export function toolImageMap(dir: string, repoRoot: string = REPO_ROOT): ImageMapping[] {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const venv = ensurePytestVenv(dir);
  const toolBin = resolve(repoRoot, 'dev', 'image', 'tool-bin');
  return [
    toolImageMapping(`${repository(GIT_TOOL_IMAGE)}@*`, `${toolBin}:${HOST_PATH}`, repoRoot),
    toolImageMapping(`${repository(PYTEST_TOOL_IMAGE)}@*`, `${join(venv, 'bin')}:${HOST_PATH}`, repoRoot),
    toolImageMapping(`${repository(CURL_TOOL_IMAGE)}@*`, HOST_PATH, repoRoot),
  ];
}
