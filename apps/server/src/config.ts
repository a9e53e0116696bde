import { resolve } from "node:path";
import { z } from "zod";

const ROLE_NAMES = ["api", "realtime", "collector", "worker"] as const;
export type Role = (typeof ROLE_NAMES)[number];

const optionalUrl = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .pipe(z.url().optional())
  .optional();

const count = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default("0.0.0.0"),
  DATA_DIR: z.string().default("./data"),
  DATABASE_URL: optionalUrl,
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(10),
  // Unset: the embedded PostgreSQL takes 54329 when free, else any free port, so instances can run side by side.
  EMBEDDED_POSTGRES_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  NATS_URL: optionalUrl,
  PUBLIC_URL: optionalUrl,
  ROLES: z
    .string()
    .default(ROLE_NAMES.join(","))
    .transform((value) =>
      value
        .split(",")
        .map((role) => role.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(ROLE_NAMES)).min(1, "name at least one role")),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  TRUST_PROXY: z.stringbool().default(false),
  RATE_LIMIT_LOGIN_FAILURES: count(10),
  RATE_LIMIT_REGISTRATIONS: count(100),
  RATE_LIMIT_REQUESTS: count(1200),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(1000),
  READ_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  // Signing keys. Embedded mode generates and keeps them in DATA_DIR; cluster mode must set them.
  TOKEN_SECRET: z.string().min(32).optional(),
  TICKET_SECRET: z.string().min(32).optional(),
  URL_SIGNING_SECRET: z.string().min(32).optional(),
});

export interface Secrets {
  tokenSecret: string;
  ticketSecret: string;
  urlSigningSecret: string;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Embedded mode: no DATABASE_URL, so the app runs its own PostgreSQL in DATA_DIR. */
  isEmbedded: boolean;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  /** A fixed port for the embedded PostgreSQL; undefined: a free one is picked at each start. */
  embeddedPostgresPort: number | undefined;
  natsUrl: string | undefined;
  publicUrl: string | undefined;
  roles: ReadonlySet<Role>;
  logLevel: string;
  shutdownTimeoutMs: number;
  trustProxy: boolean;
  rateLimits: { loginFailures: number; registrations: number; requests: number };
  outboxPollMs: number;
  /** How long public feed and event pages may be served from memory (0 = never; ADR 0004). */
  readCacheMs: number;
  /** Secrets given in the environment; missing ones are generated in embedded mode (see secrets.ts). */
  secrets: Partial<Secrets>;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
  }
}

/** Reads and validates the environment; throws ConfigError listing every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`));
  }
  const e = parsed.data;
  const isEmbedded = e.DATABASE_URL === undefined;
  const secrets = {
    tokenSecret: e.TOKEN_SECRET,
    ticketSecret: e.TICKET_SECRET,
    urlSigningSecret: e.URL_SIGNING_SECRET,
  };
  if (!isEmbedded) {
    const missing = Object.entries({
      TOKEN_SECRET: e.TOKEN_SECRET,
      TICKET_SECRET: e.TICKET_SECRET,
      URL_SIGNING_SECRET: e.URL_SIGNING_SECRET,
    })
      .filter(([, value]) => value === undefined)
      .map(([name]) => `${name}: required when DATABASE_URL is set (cluster mode), at least 32 characters`);
    if (missing.length > 0) throw new ConfigError(missing);
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(e.DATA_DIR),
    isEmbedded,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    embeddedPostgresPort: e.EMBEDDED_POSTGRES_PORT,
    natsUrl: e.NATS_URL,
    publicUrl: e.PUBLIC_URL,
    roles: new Set(e.ROLES),
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    trustProxy: e.TRUST_PROXY,
    rateLimits: {
      loginFailures: e.RATE_LIMIT_LOGIN_FAILURES,
      registrations: e.RATE_LIMIT_REGISTRATIONS,
      requests: e.RATE_LIMIT_REQUESTS,
    },
    outboxPollMs: e.OUTBOX_POLL_MS,
    readCacheMs: e.READ_CACHE_MS,
    secrets: Object.fromEntries(Object.entries(secrets).filter(([, value]) => value !== undefined)),
  });
}
