import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { SERVER_NODE_ARGS } from "../../../../e2e/support/server-process.ts";
import { readConfigSettings, readConfigSource, REPO_ROOT } from "../../test/config-settings.ts";

/*
 * No container engine runs on this machine, so the Dockerfile is held to the code here: its Node version,
 * user, volume, port, health check, command and copied paths. (Its build steps were run by hand with Node 24;
 * docs/operations.md says how.)
 */

interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

function readDockerfile(): Instruction[] {
  const text = readFileSync(resolve(REPO_ROOT, "Dockerfile"), "utf8").replace(/\\\n/g, " ");
  let stage = -1;
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [keyword = "", ...rest] = line.split(/\s+/);
      if (keyword.toUpperCase() === "FROM") stage += 1;
      return { keyword: keyword.toUpperCase(), args: rest.join(" "), stage };
    });
}

const instructions = readDockerfile();
const finalStage = Math.max(...instructions.map(({ stage }) => stage));
const final = instructions.filter(({ stage }) => stage === finalStage);
const rootPackage = JSON.parse(readFileSync(resolve(REPO_ROOT, "package.json"), "utf8")) as {
  workspaces: string[];
  scripts: Record<string, string>;
  engines: { node: string };
};

function only(keyword: string, from = final): string {
  const found = from.filter((instruction) => instruction.keyword === keyword);
  expect(
    found.map(({ keyword: name }) => name),
    `one ${keyword} in the image's stage`,
  ).toEqual([keyword]);
  return found[0]?.args ?? "";
}

function envOf(stage: Instruction[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const { args } of stage.filter(({ keyword }) => keyword === "ENV")) {
    for (const pair of args.split(/\s+/)) {
      const [name = "", value = ""] = pair.split("=");
      env.set(name, value);
    }
  }
  return env;
}

describe("Dockerfile", () => {
  it("builds every stage on Node 24 LTS, which package.json's engines allow", () => {
    const base = /^NODE_IMAGE=node:(\d+)-[a-z]+-slim$/.exec(only("ARG", instructions));
    expect(base?.[1]).toBe("24");
    const minimum = Number(/>=\s*(\d+)/.exec(rootPackage.engines.node)?.[1]);
    expect(Number(base?.[1])).toBeGreaterThanOrEqual(minimum);
    const froms = instructions
      .filter(({ keyword }) => keyword === "FROM")
      .map(({ args }) => args.split(" ")[0]);
    expect(new Set(froms)).toEqual(new Set(["${NODE_IMAGE}"]));
  });

  it("is the Node major CI runs the unit and integration tiers on (.ci/run)", () => {
    const major = /^NODE_IMAGE=node:(\d+)-/.exec(only("ARG", instructions))?.[1];
    const ci = readFileSync(resolve(REPO_ROOT, ".ci/run"), "utf8");
    expect(ci).toContain(`npx -y node@${major} -p process.execPath`);
    expect(ci).toMatch(
      /PATH="\$image_node_bin:\$PATH" node node_modules\/vitest\/vitest\.mjs run --project unit/,
    );
    expect(ci).toMatch(
      /PATH="\$image_node_bin:\$PATH" node node_modules\/vitest\/vitest\.mjs run --project int/,
    );
  });

  it("runs as an unprivileged user that owns the DATA_DIR volume", () => {
    const user = only("USER");
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const env = envOf(final);
    const dataDir = env.get("DATA_DIR") ?? "";
    expect(only("VOLUME")).toBe(dataDir);
    const chown = final.find(({ keyword, args }) => keyword === "RUN" && args.includes("chown"));
    expect(chown?.args).toContain(`chown ${user}:${user} ${dataDir}`);
  });

  it("exposes PORT, checks /healthz there, and names only settings config.ts reads", () => {
    const env = envOf(final);
    const settings = readConfigSettings(readConfigSource());
    const unknown = [...env.keys()].filter((name) => name !== "NODE_ENV" && !settings.has(name));
    expect(unknown.map((name) => `ENV ${name} is not read by apps/server/src/config.ts`)).toEqual([]);
    expect(only("EXPOSE")).toBe(env.get("PORT"));
    const healthcheck = only("HEALTHCHECK");
    expect(healthcheck).toContain("process.env.PORT+'/healthz'");
    const appSource = readFileSync(resolve(REPO_ROOT, "apps/server/src/app.ts"), "utf8");
    expect(appSource).toContain('app.get("/healthz"');
  });

  it("starts the server as npm start and the tests' server processes do, under tini", () => {
    expect(only("ENTRYPOINT")).toBe('["/usr/bin/tini", "--"]');
    const command = (JSON.parse(only("CMD")) as string[]).join(" ");
    expect(rootPackage.scripts.start).toBe(command);
    expect(command).toBe(["node", ...SERVER_NODE_ARGS].join(" "));
  });

  it("copies every workspace's package.json before each npm ci (else the lockfile does not match)", () => {
    const installStages = [
      ...new Set(instructions.filter(({ args }) => /npm ci/.test(args)).map((i) => i.stage)),
    ];
    expect(installStages.length).toBe(2);
    for (const stage of installStages) {
      const copied = instructions
        .filter((i) => i.stage === stage && i.keyword === "COPY")
        .map(({ args }) => args.split(" ")[0]);
      const missing = rootPackage.workspaces.filter(
        (workspace) => !copied.includes(`${workspace}/package.json`),
      );
      expect(missing.map((workspace) => `stage ${stage} does not copy ${workspace}/package.json`)).toEqual(
        [],
      );
    }
  });

  it("copies paths that exist, and the built web app to where the api role serves it from", () => {
    const sources = final
      .filter(({ keyword, args }) => keyword === "COPY" && !args.startsWith("--from"))
      .map(({ args }) => args.split(" ")[0] ?? "");
    expect(sources.filter((source) => !existsSync(resolve(REPO_ROOT, source)))).toEqual([]);
    const webCopy = final.find(({ args }) => args.startsWith("--from=web"))?.args.split(" ");
    const apiRole = readFileSync(resolve(REPO_ROOT, "apps/server/src/roles/api.ts"), "utf8");
    expect(apiRole).toContain('resolve(import.meta.dirname, "../../../web/dist")');
    expect(webCopy?.[2]).toBe("apps/web/dist");
  });
});
