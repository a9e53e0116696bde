import type { BenchOptions } from "./options.ts";

/** One JSON line, printed last to stdout by the runner; `scenario` names it. */
export type ScenarioResult = { scenario: string } & Record<string, string | number | boolean>;

/** A scenario file's default export. Progress goes to stderr; the result is returned, never printed. */
export interface Scenario {
  run(options: BenchOptions): Promise<ScenarioResult>;
}

/** Whether a dynamically imported module default-exports a Scenario. */
export function isScenarioModule(module: unknown): module is { default: Scenario } {
  if (typeof module !== "object" || module === null || !("default" in module)) return false;
  const candidate = module.default;
  return (
    typeof candidate === "object" &&
    candidate !== null &&
    "run" in candidate &&
    typeof candidate.run === "function"
  );
}

/** Writes one progress line to stderr, so stdout carries only the result. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}
