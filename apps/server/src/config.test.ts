import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";

const secrets = {
  TOKEN_SECRET: "t".repeat(32),
  TICKET_SECRET: "k".repeat(32),
  URL_SIGNING_SECRET: "u".repeat(32),
};

describe("loadConfig", () => {
  it("defaults to embedded mode with every role on port 3000", () => {
    const config = loadConfig({});
    expect(config.isEmbedded).toBe(true);
    expect(config.port).toBe(3000);
    expect([...config.roles]).toEqual(["api", "realtime", "collector", "worker"]);
    expect(config.rateLimits).toEqual({ loginFailures: 10, registrations: 100, requests: 1200 });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("selects roles from ROLES", () => {
    expect([...loadConfig({ ROLES: "api, worker" }).roles]).toEqual(["api", "worker"]);
  });

  it("lists every problem at once", () => {
    let caught: unknown;
    try {
      loadConfig({ PORT: "eighty", ROLES: "api,chef", DATABASE_URL: "not a url", RATE_LIMIT_REQUESTS: "-1" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems;
    expect(problems.map((problem) => problem.split(":")[0])).toEqual(
      expect.arrayContaining(["PORT", "DATABASE_URL", "ROLES.1", "RATE_LIMIT_REQUESTS"]),
    );
    expect(problems).toHaveLength(4);
  });

  it("requires the signing secrets in cluster mode", () => {
    expect(() => loadConfig({ DATABASE_URL: "postgres://db/turnout" })).toThrow(
      /TOKEN_SECRET.*\n.*TICKET_SECRET.*\n.*URL_SIGNING_SECRET/,
    );
    const config = loadConfig({ DATABASE_URL: "postgres://db/turnout", ...secrets });
    expect(config.isEmbedded).toBe(false);
    expect(config.secrets.tokenSecret).toBe(secrets.TOKEN_SECRET);
  });

  it("treats an empty NATS_URL as unset", () => {
    expect(loadConfig({ NATS_URL: "" }).natsUrl).toBeUndefined();
    expect(loadConfig({ NATS_URL: "nats://127.0.0.1:4222" }).natsUrl).toBe("nats://127.0.0.1:4222");
  });
});
