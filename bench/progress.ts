// One updating status line on stderr while the bench runs (a terminal gets it rewritten in place; a log
// file or pipe gets a line every few seconds), plus permanent lines for finished steps.

export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #everyMs: number;
  #lastPrinted = 0;
  #shown = false;

  constructor(stream: NodeJS.WriteStream = process.stderr, everyMs = 5000) {
    this.#stream = stream;
    this.#tty = stream.isTTY;
    this.#everyMs = everyMs;
  }

  /** Replaces the status line. */
  update(text: string): void {
    if (this.#tty) {
      const width = this.#stream.columns > 0 ? this.#stream.columns - 1 : 159;
      this.#stream.write(`\r\x1b[2K${text.slice(0, width)}`);
      this.#shown = true;
      return;
    }
    const now = performance.now();
    if (now - this.#lastPrinted >= this.#everyMs) {
      this.#lastPrinted = now;
      this.#stream.write(`${text}\n`);
    }
  }

  /** A permanent line (the status line, if any, is cleared first). */
  log(text: string): void {
    if (this.#tty && this.#shown) this.#stream.write('\r\x1b[2K');
    this.#shown = false;
    this.#stream.write(`${text}\n`);
  }
}
