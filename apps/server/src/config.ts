import { isIP } from "node:net";
import { resolve } from "node:path";
import { z } from "zod";

// Process roles (what a process runs), not user roles (what a user may do: modules/auth/user-roles.ts).
const PROCESS_ROLE_NAMES = ["api", "realtime", "collector", "worker"] as const;
export type ProcessRole = (typeof PROCESS_ROLE_NAMES)[number];

const optionalUrl = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .pipe(z.url().optional())
  .optional();

/**
 * Which proxies to believe, in a form Fastify's trustProxy takes: off, every hop, the proxies' addresses and
 * CIDRs, or (for a hop count) a function of the hop's index, since Fastify 5.12 treats a bare number as
 * "trust nothing".
 */
export type TrustProxy = boolean | string[] | ((address: string, hop: number) => boolean);

// Names proxy-addr (Fastify's resolver) understands for common private ranges.
const PROXY_RANGE_NAMES = new Set(["loopback", "linklocal", "uniquelocal"]);

function isProxyAddress(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry)) return true;
  const [address = "", prefix, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

// A bare "true" trusts every X-Forwarded-For entry, so the client's own leftmost one wins: kept because it
// is Fastify's form, documented as unsafe unless the proxy overwrites the header.
const trustProxySchema = z
  .string()
  .trim()
  .default("false")
  .transform((value, ctx): TrustProxy => {
    const lower = value.toLowerCase();
    if (["", "false", "no", "off", "0"].includes(lower)) return false;
    if (["true", "yes", "on"].includes(lower)) return true;
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      // Hop 0 is the socket's peer; hops 1..n-1 are the X-Forwarded-For entries the proxies appended.
      return (_address: string, hop: number) => hop < hops;
    }
    const entries = value.split(",").map((entry) => entry.trim());
    const bad = entries.filter((entry) => !isProxyAddress(entry));
    if (bad.length === 0) return entries;
    ctx.addIssue({
      code: "custom",
      message: `not a hop count, true/false or a list of proxy addresses/CIDRs: ${bad.join(", ")}`,
    });
    return z.NEVER;
  });

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
    .default(PROCESS_ROLE_NAMES.join(","))
    .transform((value) =>
      value
        .split(",")
        .map((role) => role.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(PROCESS_ROLE_NAMES)).min(1, "name at least one role")),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  TRUST_PROXY: trustProxySchema,
  RATE_LIMIT_LOGIN_FAILURES: count(10),
  RATE_LIMIT_REGISTRATIONS: count(100),
  RATE_LIMIT_REQUESTS: count(1200),
  RATE_LIMIT_COLLECT: count(600_000),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).default(1000),
  OUTBOX_RETENTION_HOURS: z.coerce.number().int().min(1).max(8760).default(72),
  READ_CACHE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  ANALYTICS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
  COLLECTOR_MAX_BACKLOG: z.coerce.number().int().min(1).default(20_000),
  COLLECTOR_MAX_BACKLOG_MS: z.coerce.number().int().min(100).max(600_000).default(1000),
  SOURCES_REFRESH_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
  INTERACTIONS_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, - and _ only")
    .default("interactions"),
  // Real-time gateway (modules/realtime, ADR 0013).
  REALTIME_SEND_BUFFER_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  REALTIME_MAX_SUBSCRIPTIONS: z.coerce.number().int().min(1).max(10_000).default(100),
  REALTIME_MAX_MESSAGE_BYTES: z.coerce
    .number()
    .int()
    .min(256)
    .max(1024 * 1024)
    .default(16 * 1024),
  REALTIME_HEARTBEAT_MS: z.coerce.number().int().min(100).default(30_000),
  REALTIME_CONNECTIONS_PER_MINUTE: count(600),
  REALTIME_HISTORY_PER_CHANNEL: z.coerce.number().int().min(1).default(1000),
  REALTIME_SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(0).max(10_000).default(100),
  REALTIME_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("realtime"),
  REALTIME_HISTORY_HOURS: z.coerce.number().int().min(1).max(8760).default(24),
  // Signing keys. Embedded mode generates and keeps them in DATA_DIR; cluster mode must set them.
  TOKEN_SECRET: z.string().min(32).optional(),
  // The key TOKEN_SECRET replaced: its access tokens stay valid until they expire (at most 15 minutes).
  TOKEN_SECRET_PREVIOUS: z.string().min(32).optional(),
  TICKET_SECRET: z.string().min(32).optional(),
  URL_SIGNING_SECRET: z.string().min(32).optional(),
  // Files: on the local disk under DATA_DIR/files unless S3_BUCKET names a bucket of an S3-compatible store.
  S3_BUCKET: z.string().trim().min(1).optional(),
  S3_ENDPOINT: optionalUrl,
  S3_REGION: z.string().trim().min(1).default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: z.stringbool().default(true),
  PHOTO_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(1024 * 1024 * 1024)
    .default(20 * 1024 * 1024),
  // Bus names (cluster mode): tests and clusters sharing one NATS each take their own stream and subjects.
  DOMAIN_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, - and _ only")
    .default("DOMAIN"),
  DOMAIN_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default("domain"),
  // Copies JetStream keeps of each stream Turnout creates (3 on a three-server NATS cluster).
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  // Mail (modules/mail, ADR 0022): over SMTP when SMTP_URL is set, else as .eml files under DATA_DIR/mail.
  SMTP_URL: optionalUrl,
  MAIL_FROM: z.string().trim().min(3).default("Turnout <no-reply@turnout.localhost>"),
  // Tracing (platform/tracing, ADR 0023): on when set; the SDK reads it and the other OTEL_* settings itself.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
});

export interface Secrets {
  tokenSecret: string;
  /** Accepted for verifying access tokens while a key rotation finishes; never signs. */
  previousTokenSecret?: string;
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
  roles: ReadonlySet<ProcessRole>;
  logLevel: string;
  shutdownTimeoutMs: number;
  /** How long a closing listener keeps its sockets answering 503 before it closes them (platform/drain.ts). */
  shutdownGraceMs: number;
  /** Which X-Forwarded-* hops to believe for the client address and protocol (Fastify's trustProxy). */
  trustProxy: TrustProxy;
  /** `collectPerSource`: collector requests per source per minute, in place of `requests` on those routes. */
  rateLimits: { loginFailures: number; registrations: number; requests: number; collectPerSource: number };
  outboxPollMs: number;
  /** How long sent outbox rows (and the inbox records deduplicating them) are kept: resume replays them. */
  outboxRetentionHours: number;
  /** How long public feed and event pages may be served from memory (0 = never; ADR 0004). */
  readCacheMs: number;
  /** Where uploaded files live: the local disk (DATA_DIR/files) or an S3-compatible bucket. */
  storage: LocalStorageConfig | S3StorageConfig;
  /** The largest photo a client may declare (API.md: 20 MiB). */
  photoMaxBytes: number;
  analytics: {
    /** Days of raw interactions kept; older day partitions are dropped. */
    retentionDays: number;
    /** Batches waiting in the interaction stream beyond which the collector answers 429. */
    maxBacklogBatches: number;
    /** The time the waiting batches take to load, at the processors' measured rate, beyond which it does too. */
    maxBacklogMs: number;
    /** How often a collector re-reads the write keys (a revoked key works at most this long elsewhere). */
    sourcesRefreshMs: number;
    /** The JetStream stream (and subject prefix) of interactions in cluster mode. */
    streamName: string;
  };
  realtime: RealtimeSettings;
  bus: BusSettings;
  mail: MailSettings;
  /** OpenTelemetry tracing runs: tracing.ts started it before main.ts loaded (OTEL_EXPORTER_OTLP_ENDPOINT). */
  isTracingEnabled: boolean;
  /** Secrets given in the environment; missing ones are generated in embedded mode (see secrets.ts). */
  secrets: Partial<Secrets>;
}

export interface LocalStorageConfig {
  driver: "local";
  root: string;
}

export interface S3StorageConfig {
  driver: "s3";
  endpoint: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

export interface RealtimeSettings {
  /** A client whose unsent data passes this many bytes is disconnected (close code 4008). */
  sendBufferBytes: number;
  maxSubscriptionsPerConnection: number;
  /** Largest client frame; a bigger one closes the socket (1009). */
  maxMessageBytes: number;
  /** Ping interval; a peer that has not answered the previous ping is dropped. */
  heartbeatMs: number;
  /** New connections per client address and minute (0 = off). */
  connectionsPerMinute: number;
  /** Messages kept per channel for resume; older positions get a reset. */
  historyPerChannel: number;
  /** At most one stats snapshot per event channel and interval (the latest always follows). */
  snapshotIntervalMs: number;
  /** Bus subjects of live channel messages: `<prefix>.events`, `<prefix>.event.<id>`... */
  subjectPrefix: string;
  /** Channel messages older than this many hours are forgotten (also under historyPerChannel). */
  historyHours: number;
}

export interface BusSettings {
  /** The JetStream stream of domain events and its subject prefix (`<prefix>.<type>`). */
  domainStream: { name: string; subjectPrefix: string };
  /** Replicas of every stream Turnout creates on NATS (at most the number of NATS servers). */
  streamReplicas: number;
}

export interface MailSettings {
  /** smtp:// or smtps:// URL of the relay (credentials in it); undefined: .eml files in `dir` (embedded). */
  smtpUrl: string | undefined;
  /** The From header of every mail. */
  from: string;
  /** Where mails are written when there is no SMTP relay. */
  dir: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
  }
}

/**
 * Whether tracing.ts starts OpenTelemetry: read alone, before main.ts loads, from the same rule as
 * `isTracingEnabled`. An invalid value is "no" here and a listed problem when main.ts loads the config.
 */
export function isTracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = envSchema.shape.OTEL_EXPORTER_OTLP_ENDPOINT.safeParse(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  return endpoint.success && endpoint.data !== undefined;
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
    previousTokenSecret: e.TOKEN_SECRET_PREVIOUS,
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
  const storage = storageConfig(e);
  if (storage instanceof ConfigError) throw storage;
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
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    trustProxy: e.TRUST_PROXY,
    rateLimits: {
      loginFailures: e.RATE_LIMIT_LOGIN_FAILURES,
      registrations: e.RATE_LIMIT_REGISTRATIONS,
      requests: e.RATE_LIMIT_REQUESTS,
      collectPerSource: e.RATE_LIMIT_COLLECT,
    },
    outboxPollMs: e.OUTBOX_POLL_MS,
    outboxRetentionHours: e.OUTBOX_RETENTION_HOURS,
    readCacheMs: e.READ_CACHE_MS,
    storage,
    photoMaxBytes: e.PHOTO_MAX_BYTES,
    analytics: {
      retentionDays: e.ANALYTICS_RETENTION_DAYS,
      maxBacklogBatches: e.COLLECTOR_MAX_BACKLOG,
      maxBacklogMs: e.COLLECTOR_MAX_BACKLOG_MS,
      sourcesRefreshMs: e.SOURCES_REFRESH_MS,
      streamName: e.INTERACTIONS_STREAM,
    },
    realtime: {
      sendBufferBytes: e.REALTIME_SEND_BUFFER_BYTES,
      maxSubscriptionsPerConnection: e.REALTIME_MAX_SUBSCRIPTIONS,
      maxMessageBytes: e.REALTIME_MAX_MESSAGE_BYTES,
      heartbeatMs: e.REALTIME_HEARTBEAT_MS,
      connectionsPerMinute: e.REALTIME_CONNECTIONS_PER_MINUTE,
      historyPerChannel: e.REALTIME_HISTORY_PER_CHANNEL,
      snapshotIntervalMs: e.REALTIME_SNAPSHOT_INTERVAL_MS,
      subjectPrefix: e.REALTIME_SUBJECT_PREFIX,
      historyHours: e.REALTIME_HISTORY_HOURS,
    },
    bus: {
      domainStream: { name: e.DOMAIN_STREAM, subjectPrefix: e.DOMAIN_SUBJECT_PREFIX },
      streamReplicas: e.NATS_STREAM_REPLICAS,
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM, dir: resolve(e.DATA_DIR, "mail") },
    isTracingEnabled: e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined,
    secrets: Object.fromEntries(Object.entries(secrets).filter(([, value]) => value !== undefined)),
  });
}

function storageConfig(e: z.infer<typeof envSchema>): LocalStorageConfig | S3StorageConfig | ConfigError {
  if (e.S3_BUCKET === undefined) return { driver: "local", root: resolve(e.DATA_DIR, "files") };
  if (e.S3_ACCESS_KEY_ID === undefined || e.S3_SECRET_ACCESS_KEY === undefined) {
    return new ConfigError(["S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: required when S3_BUCKET is set"]);
  }
  return {
    driver: "s3",
    endpoint: e.S3_ENDPOINT,
    region: e.S3_REGION,
    bucket: e.S3_BUCKET,
    accessKeyId: e.S3_ACCESS_KEY_ID,
    secretAccessKey: e.S3_SECRET_ACCESS_KEY,
    forcePathStyle: e.S3_FORCE_PATH_STYLE,
  };
}
