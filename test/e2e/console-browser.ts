// A real headless Chromium for the console tests: Debian's `chromium` package (installed here when missing,
// as root or with passwordless sudo; never a downloaded browser), driven by playwright-core, with a fresh
// profile per launch.
// Every flag keeps it quiet on the network: no background services, and a proxy on a closed loopback port
// for anything that is not loopback, so the browser can only ever reach the console.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

function passwordlessSudo(): boolean {
  try {
    execFileSync('sudo', ['-n', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Installs Debian's chromium when it is missing (as root, or with passwordless sudo); otherwise says what to run. */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const asRoot = process.getuid?.() === 0;
  if (!asRoot && !passwordlessSudo()) {
    throw new Error(`the console tests need Debian's chromium at ${CHROMIUM}: run "sudo apt-get install -y chromium" (not root and no passwordless sudo, so the test cannot install it)`);
  }
  process.stderr.write('m87 e2e: installing chromium (apt-get install -y chromium)…\n');
  const apt = (args: string[]): void => {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (asRoot) execFileSync('apt-get', args, { stdio: 'inherit', env });
    else execFileSync('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { stdio: 'inherit', env });
  };
  try {
    apt(['install', '-y', '--no-install-recommends', 'chromium']);
  } catch {
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', 'chromium']);
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} does not exist`);
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--dns-prefetch-disable',
  // Anything not on loopback goes to a closed loopback port; loopback stays direct.
  '--proxy-server=http://127.0.0.1:9',
  '--proxy-bypass-list=127.0.0.1;localhost;[::1]',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a fresh --user-data-dir (removed on close). A laptop-sized window. */
export async function launchBrowser(): Promise<Browser> {
  ensureChromium();
  const profile = mkdtempSync(join(tmpdir(), 'm87-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 768 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
