import { readdir, readFile } from "node:fs/promises";
import { builtinModules, createRequire } from "node:module";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "../test/app.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
// Each workspace and the folders holding its own code (tests included: they run in CI too).
const WORKSPACES = [
  { dir: "packages/contracts", sources: ["src"] },
  { dir: "apps/server", sources: ["src", "test"] },
  { dir: "apps/web", sources: ["src"] },
  { dir: "bench", sources: ["src"] },
  { dir: "e2e", sources: ["."] },
];
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

interface PackageJson {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

async function readJson(path: string): Promise<PackageJson> {
  return JSON.parse(await readFile(path, "utf8")) as PackageJson;
}

async function listSources(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|tsx)$/.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => !path.includes("node_modules") && !path.includes("/dist/"));
}

function packageNameOf(specifier: string): string | undefined {
  if (specifier.startsWith(".") || specifier.startsWith("node:") || builtinModules.includes(specifier))
    return undefined;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

async function findUndeclaredImports(workspace: (typeof WORKSPACES)[number]): Promise<string[]> {
  const manifest = await readJson(join(ROOT, workspace.dir, "package.json"));
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.devDependencies ?? {}),
  ]);
  const undeclared = new Map<string, string>();
  for (const folder of workspace.sources) {
    for (const file of await listSources(join(ROOT, workspace.dir, folder))) {
      const text = await readFile(file, "utf8");
      for (const match of text.matchAll(IMPORT)) {
        const name = packageNameOf(match[1] ?? match[2] ?? ".");
        if (name !== undefined && !declared.has(name)) undeclared.set(name, file.slice(ROOT.length + 1));
      }
    }
  }
  return [...undeclared].map(([name, file]) => `${name} (imported by ${file})`);
}

describe("dependencies", () => {
  it.each(WORKSPACES)("$dir declares every package it imports", async (workspace) => {
    expect(await findUndeclaredImports(workspace)).toEqual([]);
  });

  it("runs a single @fastify/static at a release past its path-traversal advisories", async () => {
    // GHSA-83w8-p2f5-377r, -423g-23ch-w7c6, -8pvw-jcv7-9cmj, -x428-ghpx-8j92, -pr96-94w5-mx2h: fixed by 10.1.3.
    const requireFromServer = createRequire(join(ROOT, "apps/server/package.json"));
    const requireFromSwaggerUi = createRequire(requireFromServer.resolve("@fastify/swagger-ui"));
    const direct = requireFromServer.resolve("@fastify/static/package.json");
    const viaSwaggerUi = requireFromSwaggerUi.resolve("@fastify/static/package.json");
    expect(viaSwaggerUi).toBe(direct);
    const { version } = (await readJson(direct)) as PackageJson & { version: string };
    const [major = 0, minor = 0, patch = 0] = version.split(".").map(Number);
    expect(major * 1e6 + minor * 1e3 + patch, version).toBeGreaterThanOrEqual(10_001_003);
  });
});

describe("static files after the upgrade", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it("serves the reference page and its assets", async () => {
    const page = await t.app.inject({ url: "/api/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("swagger-ui-bundle.js");
    const bundle = await t.app.inject({ url: "/api/docs/static/swagger-ui-bundle.js" });
    expect(bundle.statusCode).toBe(200);
    expect(bundle.headers["content-type"]).toMatch(/javascript/);
  });

  it.each([
    "/api/docs/static/..%2f..%2fpackage.json",
    "/api/docs/static/%2e%2e/%2e%2e/package.json",
    "/api/docs/static/./../../package.json",
    "/assets/..%2f..%2f..%2fpackage.json",
    "/assets/%2e%2e/%2e%2e/%2e%2e/package.json",
  ])("never serves a file outside its root for %s", async (url) => {
    const response = await t.app.inject({ url });
    expect(response.body).not.toContain('"name": "@turnout');
    expect(response.body).not.toContain('"@fastify/swagger-ui"');
    expect(response.statusCode).toBeLessThan(500);
  });
});
