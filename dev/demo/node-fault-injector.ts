// A compromised node, for the demo and the e2e tier only: the process node's image map sends the runner
// image here (`node node-fault-injector.ts <plan.json> <src/cli/main.ts> runner`), and the delivered runner of
// every step container too (`… step <i>`). For a Pod whose job the
// plan names, it does what a node-level attacker can do without touching the API server — present forged
// downward-API annotations to the container and plant a symlink in its workspace — and then runs the real,
// unmodified `m87 runner` in this process. Jobs the plan does not name run untouched.
//
// It runs as the Pod's user in the Pod's network namespace, exactly like the runner it wraps.
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ANNOTATIONS, PODINFO_FILES } from '../../src/api/group.ts';
import { readPodinfo } from '../../src/runner/podinfo.ts';
import type { FaultPlan, FaultSpec } from './faults.ts';

function existsLink(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function log(message: string): void {
  process.stderr.write(`m87 node fault injector: ${message}\n`);
}

function faultFor(planFile: string, annotations: ReadonlyMap<string, string>): FaultSpec | undefined {
  if (!existsSync(planFile)) return undefined;
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as FaultPlan;
  const envelope = annotations.get(ANNOTATIONS.envelope);
  if (envelope === undefined || envelope === '') return undefined;
  // The governance Job is named after its proposal.
  const proposal = (JSON.parse(envelope) as { proposal?: { namespace?: string; name?: string } }).proposal;
  return plan[`${proposal?.namespace ?? ''}/${proposal?.name ?? ''}`];
}

/** The annotations as the runner would read them, or none when the podinfo volume cannot be read. */
function podAnnotations(podinfo: string): Map<string, string> {
  try {
    return readPodinfo(podinfo);
  } catch {
    return new Map();
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [planFile, cliMain, ...args] = argv;
  if (planFile === undefined || cliMain === undefined) throw new Error('usage: node-fault-injector.ts <plan.json> <src/cli/main.ts> <m87 args…>');
  const podinfo = process.env.M87_PODINFO_DIR ?? '';
  const annotations = podAnnotations(podinfo);
  const fault = faultFor(planFile, annotations);
  let forgedDir: string | undefined;
  if (fault?.annotations !== undefined) {
    // Loaded only for a targeted Pod: every other job starts as fast as without the injector.
    const { forgeAnnotations } = await import('./faults.ts');
    const forged = forgeAnnotations(annotations, fault.annotations);
    forgedDir = mkdtempSync(join(tmpdir(), 'm87-forged-podinfo-'));
    // The kubelet's format for single-annotation items: one file per annotation, the raw value.
    for (const [name, file] of Object.entries(PODINFO_FILES) as [keyof typeof PODINFO_FILES, string][]) {
      writeFileSync(join(forgedDir, file), forged.get(ANNOTATIONS[name]) ?? '');
    }
    process.env.M87_PODINFO_DIR = forgedDir;
    log(`presenting forged annotations (${fault.annotations}) instead of ${podinfo}`);
  }
  // Into the workspace of the first container that mounts it (a step Pod's later containers find it there).
  const workspace = process.env.M87_WORKSPACE;
  if (fault?.symlink !== undefined && workspace !== undefined && workspace !== '') {
    const link = join(workspace, fault.symlink.link);
    if (!existsLink(link)) {
      symlinkSync(fault.symlink.target, link);
      log(`planted the symlink ${link} -> ${fault.symlink.target}`);
    }
  }
  if (forgedDir !== undefined) {
    const dir = forgedDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  // The real CLI, unmodified: it reads process.argv when it is loaded and sets process.exitCode.
  process.argv = [process.argv[0] ?? process.execPath, cliMain, ...args];
  await import(pathToFileURL(cliMain).href);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exitCode = 2;
});
