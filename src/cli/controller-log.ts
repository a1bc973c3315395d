// The controller process's logger (m87 controller).
import { pino, type Logger } from 'pino';

/** How long a log line may wait in the controller's log buffer. */
export const LOG_FLUSH_MS = 200;

/**
 * The controller's logger: JSON lines on stdout, as before, but written in batches (up to 4 KiB, or whatever
 * accumulated within LOG_FLUSH_MS) instead of one synchronous write per line: the writes were about 4 % of the
 * controller's CPU under load (issue 16). Every line is still written: on exit (normal, error, or a signal the
 * controller handles) pino flushes the buffer synchronously; only a process killed outright (SIGKILL) can
 * lose the last LOG_FLUSH_MS of lines.
 */
export function controllerLogger(level: string, fd = 1): Logger {
  const destination = pino.destination({ dest: fd, sync: false, minLength: 4096 });
  let unflushed = false;
  const timer = setInterval(() => {
    if (!unflushed) return;
    unflushed = false;
    try {
      destination.flush();
    } catch {
      clearInterval(timer); // destroyed (closed at exit): nothing left to flush
    }
  }, LOG_FLUSH_MS);
  timer.unref();
  destination.on('close', () => clearInterval(timer));
  return pino(
    {
      level,
      base: { component: 'm87-controller' },
      hooks: {
        streamWrite: (line) => {
          unflushed = true;
          return line;
        },
      },
    },
    destination,
  );
}
