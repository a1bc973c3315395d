// Stops planes owned by this process when it ends: normal exit, SIGINT, SIGTERM or SIGHUP. (A SIGKILLed
// owner cannot clean up; the next start sweeps what it left behind, see state.ts.)

type Cleanup = () => void;

const cleanups = new Map<symbol, Cleanup>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function runAll(): void {
  for (const [key, cleanup] of [...cleanups]) {
    cleanups.delete(key);
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`m87 devcluster: cleanup failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  // If nobody else handles the signal, restore the default action (terminate) and re-raise it, so the
  // process still ends the way the sender asked.
  if (process.listenerCount(signal) === 1) {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.removeListener('exit', runAll);
    installed = false;
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

/** Registers a synchronous cleanup; the returned function unregisters it (e.g. after a normal stop). */
export function onOwnerExit(cleanup: Cleanup): () => void {
  install();
  const key = Symbol('plane');
  cleanups.set(key, cleanup);
  return () => {
    cleanups.delete(key);
  };
}
