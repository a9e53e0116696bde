import type { FastifyBaseLogger } from "fastify";
import { pino } from "pino";

/** The logger type every part uses: pino's, as Fastify sees it, so the app and the rest share one instance. */
export type Logger = FastifyBaseLogger;

/** Structured JSON logs; secrets and credentials are redacted wherever they appear. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        'res.headers["set-cookie"]',
        "*.password",
        "*.refreshToken",
        "*.accessToken",
        "*.token",
      ],
      censor: "[redacted]",
    },
  });
}
