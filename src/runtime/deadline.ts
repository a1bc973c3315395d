// A time limit that is cleared when the work is done. AbortSignal.timeout cannot be cancelled: every request
// and every reconcile would leave a timer behind that fires later all the same, each time building a
// DOMException with its stack (measured on the controller's hot path, bench/README.md).

export interface Deadline {
  /** Aborts with a TimeoutError after the limit, or when `parent` aborts. */
  readonly signal: AbortSignal;
  /** The work is done: the timer goes. */
  clear(): void;
}

/** A deadline `ms` from now (at least 1 ms, whole ms as AbortSignal.timeout takes them), joined with `parent`. */
export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), Math.max(1, Math.ceil(ms)));
  timer.unref(); // as AbortSignal.timeout's: a pending deadline keeps no process alive
  return { signal: parent ? AbortSignal.any([parent, timeout.signal]) : timeout.signal, clear: () => clearTimeout(timer) };
}
