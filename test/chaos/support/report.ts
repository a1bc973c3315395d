// Scenario results of a chaos run. Each test file fills one ScenarioReport (counts, timing samples, notes, and
// whether every step passed) and saves it as JSON into the run's results directory; the chaos globalSetup
// turns the files of a long run into docs/reliability.md (reliability-doc.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { chaosMode } from './mode.ts';
import { SCENARIOS, type ScenarioId, type ScenarioResult, type StepResult } from './scenarios.ts';

export { SCENARIOS, type ScenarioId, type ScenarioResult, type StepResult };

declare module 'vitest' {
  export interface ProvidedContext {
    chaosResultsDir: string;
  }
}

export class ScenarioReport {
  readonly id: ScenarioId;
  readonly #started = performance.now();
  readonly #startedAt = new Date().toISOString();
  readonly #steps: StepResult[] = [];
  readonly #counts: Record<string, number> = {};
  readonly #timings: Record<string, number[]> = {};
  readonly #notes: string[] = [];

  constructor(id: ScenarioId) {
    this.id = id;
  }

  /** Runs one step of the scenario, recording whether it passed; rethrows its failure. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const value = await fn();
      this.#steps.push({ name, passed: true, durationMs: performance.now() - t0 });
      return value;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.#steps.push({ name, passed: false, error: message.slice(0, 2000), durationMs: performance.now() - t0 });
      throw err;
    }
  }

  count(name: string, value: number): void {
    this.#counts[name] = value;
  }

  add(name: string, delta = 1): void {
    this.#counts[name] = (this.#counts[name] ?? 0) + delta;
  }

  sample(name: string, ms: number): void {
    (this.#timings[name] ??= []).push(Math.round(ms));
  }

  note(line: string): void {
    this.#notes.push(line);
    process.stderr.write(`chaos ${this.id}: ${line}\n`);
  }

  result(): ScenarioResult {
    return {
      id: this.id,
      title: SCENARIOS[this.id].title,
      mode: chaosMode(),
      startedAt: this.#startedAt,
      durationMs: Math.round(performance.now() - this.#started),
      passed: this.#steps.every((s) => s.passed),
      skipped: this.#steps.length === 0,
      steps: this.#steps,
      counts: this.#counts,
      timings: this.#timings,
      notes: this.#notes,
    };
  }

  /** Writes the result into the run's results directory (call from afterAll). */
  save(): void {
    writeFileSync(join(inject('chaosResultsDir'), `${this.id}.json`), `${JSON.stringify(this.result(), null, 2)}\n`);
  }
}
