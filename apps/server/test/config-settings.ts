import { readFileSync } from "node:fs";
import { resolve } from "node:path";

// Reading config.ts as text: the settings it reads and the process roles it knows, for the tests that hold
// docs and deployment files to the code (configuration-doc.test.ts, deploy/deploy.test.ts).

export const REPO_ROOT = resolve(import.meta.dirname, "../../..");
export const CONFIG_FILE = "apps/server/src/config.ts";

export function readConfigSource(): string {
  return readFileSync(resolve(REPO_ROOT, CONFIG_FILE), "utf8");
}

/** The process roles config.ts accepts in ROLES (its PROCESS_ROLE_NAMES). */
export function readProcessRoles(source: string): string[] {
  const list = /const PROCESS_ROLE_NAMES = \[([^\]]*)\]/.exec(source)?.[1];
  if (list === undefined) throw new Error(`no "const PROCESS_ROLE_NAMES = [...]" in ${CONFIG_FILE}`);
  return [...list.matchAll(/"([a-z-]+)"/g)].map((match) => match[1] ?? "");
}

/** Each setting of config.ts's envSchema with its default when written as `.default(literal)` or `count(n)`. */
export function readConfigSettings(source: string): Map<string, string | undefined> {
  const start = source.indexOf("const envSchema = z.object({");
  const end = source.indexOf("\n});", start);
  if (start < 0 || end < 0) throw new Error(`no "const envSchema = z.object({ ... });" in ${CONFIG_FILE}`);
  const settings = new Map<string, string | undefined>();
  let current: string | undefined;
  for (const line of source.slice(start, end).split("\n")) {
    const named = /^ {2}([A-Z][A-Z0-9_]*):(.*)$/.exec(line);
    if (named !== null) current = named[1];
    if (current === undefined) continue;
    if (named !== null) settings.set(current, undefined);
    const fallback = /\.default\(([^()]*)\)|\bcount\(([^()]*)\)/.exec(named?.[2] ?? line);
    const value = fallback?.[1] ?? fallback?.[2];
    if (value !== undefined && settings.get(current) === undefined) settings.set(current, normalise(value));
  }
  return settings;
}

/** The rows of the doc's settings table: name to the default column's text. */
export function readDocumentedSettings(doc: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of doc.split("\n")) {
    const row = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|/.exec(line);
    if (row?.[1] !== undefined) settings.set(row[1], row[2]?.trim() ?? "");
  }
  return settings;
}

// `10_000` and `"info"` as the doc writes them: `10000`, `info`; PROCESS_ROLE_NAMES.join(",") is left as is.
function normalise(literal: string): string {
  const trimmed = literal.trim();
  if (/^[\d_]+$/.test(trimmed)) return trimmed.replaceAll("_", "");
  return trimmed.replace(/^"(.*)"$/, "$1");
}
