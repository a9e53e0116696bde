import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { readBenchOptions, selectScenario, UsageError } from "./options.ts";
import { isScenarioModule } from "./scenario.ts";

const SCENARIO_DIR = join(import.meta.dirname, "scenarios");
const SUFFIX = ".bench.ts";

// `npm run bench -- NAME`: runs scenarios/NAME.bench.ts and prints its result as the last stdout line.
async function main(): Promise<void> {
  const available = readdirSync(SCENARIO_DIR)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .sort();
  const name = selectScenario(process.argv.slice(2), available);
  const options = readBenchOptions(process.env);
  const module: unknown = await import(pathToFileURL(join(SCENARIO_DIR, `${name}${SUFFIX}`)).href);
  if (!isScenarioModule(module)) throw new Error(`${name}${SUFFIX} must default-export { run(options) }`);
  const result = await module.default.run(options);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
