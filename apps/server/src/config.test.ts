import { describe, expect, it } from "vitest";
import { ConfigError, isTracingRequested, loadConfig } from "./config.ts";

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
    expect(config.rateLimits).toEqual({
      loginFailures: 10,
      registrations: 100,
      requests: 1200,
      collectPerSource: 600_000,
    });
    expect(config.analytics).toEqual({
      retentionDays: 90,
      maxBacklogBatches: 20_000,
      maxBacklogMs: 1000,
      sourcesRefreshMs: 1000,
      streamName: "interactions",
    });
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

describe("TRUST_PROXY", () => {
  const trustProxy = (value: string | undefined) =>
    loadConfig(value === undefined ? {} : { TRUST_PROXY: value }).trustProxy;

  it("is off by default and for false, 0 and the empty string", () => {
    expect(trustProxy(undefined)).toBe(false);
    for (const value of ["false", "0", "", "off"]) expect(trustProxy(value)).toBe(false);
  });

  it("takes true, a hop count, or a list of proxy addresses and CIDRs", () => {
    expect(trustProxy("true")).toBe(true);
    const hops = (value: string) => {
      const trust = trustProxy(value);
      if (typeof trust !== "function") throw new Error("a hop count becomes a function");
      return [0, 1, 2, 3].map((hop) => trust("203.0.113.1", hop));
    };
    expect(hops("1")).toEqual([true, false, false, false]);
    expect(hops("2")).toEqual([true, true, false, false]);
    expect(trustProxy("10.0.0.0/8, 192.168.1.7,::1,fd00::/8,loopback")).toEqual([
      "10.0.0.0/8",
      "192.168.1.7",
      "::1",
      "fd00::/8",
      "loopback",
    ]);
  });

  it("refuses anything else, naming the bad entries", () => {
    expect(() => loadConfig({ TRUST_PROXY: "10.0.0.0/33,proxy.internal" })).toThrow(
      /TRUST_PROXY: .*10\.0\.0\.0\/33, proxy\.internal/,
    );
    expect(() => loadConfig({ TRUST_PROXY: "-1" })).toThrow(ConfigError);
  });
});

describe("TOKEN_SECRET_PREVIOUS", () => {
  it("is kept beside TOKEN_SECRET for verifying while a rotation finishes, and needs 32 characters", () => {
    const config = loadConfig({ TOKEN_SECRET_PREVIOUS: "p".repeat(32), ...secrets });
    expect(config.secrets.previousTokenSecret).toBe("p".repeat(32));
    expect(loadConfig(secrets).secrets.previousTokenSecret).toBeUndefined();
    expect(() => loadConfig({ TOKEN_SECRET_PREVIOUS: "short" })).toThrow(/TOKEN_SECRET_PREVIOUS/);
  });
});

describe("OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  it("turns tracing on only with a URL, in tracing.ts and in the config alike", () => {
    for (const [value, isOn] of [
      [undefined, false],
      ["", false],
      ["  ", false],
      ["http://otel-collector:4318", true],
    ] as const) {
      const env = value === undefined ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: value };
      expect(isTracingRequested(env)).toBe(isOn);
      expect(loadConfig(env).isTracingEnabled).toBe(isOn);
    }
  });

  it("is off in tracing.ts and a listed problem at start when it is not a URL", () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: "otel collector" };
    expect(isTracingRequested(env)).toBe(false);
    expect(() => loadConfig(env)).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});
