import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CONFIG_FILE,
  readConfigSettings,
  readConfigSource,
  readDocumentedSettings,
  readProcessRoles,
  REPO_ROOT,
} from "../test/config-settings.ts";

/*
 * docs/configuration.md documents every setting config.ts reads, with its default: this reads both files and
 * fails, naming the setting and the file to change, when one has a setting the other lacks or a default
 * differs.
 */

const DOC_FILE = "docs/configuration.md";

describe("docs/configuration.md against config.ts", () => {
  const source = readConfigSource();
  const code = readConfigSettings(source);
  // ROLES defaults to every role: written in config.ts as the role list joined.
  const roles = readProcessRoles(source);
  for (const [name, fallback] of code) {
    if (fallback === 'PROCESS_ROLE_NAMES.join(",")') code.set(name, roles.join(","));
  }
  const doc = readDocumentedSettings(readFileSync(resolve(REPO_ROOT, DOC_FILE), "utf8"));

  it("finds the settings in both files", () => {
    expect(code.size).toBeGreaterThan(10);
    expect(code.get("OUTBOX_POLL_MS")).toBe("1000");
    expect(code.get("RATE_LIMIT_REQUESTS")).toBe("1200");
  });

  it("documents every setting config.ts reads", () => {
    const undocumented = [...code.keys()].filter((name) => !doc.has(name));
    expect(
      undocumented.map((name) => `${name} is read in ${CONFIG_FILE} but has no row in ${DOC_FILE}`),
    ).toEqual([]);
  });

  it("documents no setting config.ts does not read", () => {
    const stale = [...doc.keys()].filter((name) => !code.has(name));
    expect(
      stale.map((name) => `${name} has a row in ${DOC_FILE} but ${CONFIG_FILE} does not read it`),
    ).toEqual([]);
  });

  it("gives each literal default as config.ts has it", () => {
    const wrong = [...code.entries()].flatMap(([name, fallback]) => {
      const documented = doc.get(name);
      if (fallback === undefined || documented === undefined || /^[A-Z_]+\./.test(fallback)) return [];
      return documented.includes(`\`${fallback}\``)
        ? []
        : [`${name}: ${CONFIG_FILE} defaults to ${fallback}, ${DOC_FILE} says ${documented}`];
    });
    expect(wrong).toEqual([]);
  });
});
