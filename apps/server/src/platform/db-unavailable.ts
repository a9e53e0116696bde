/*
 * Which database failures are an outage (503 service.unavailable: come back later) rather than a bug (500).
 * An outage is the server not answering or not reachable; a bug is a statement PostgreSQL answered with an
 * error about the statement itself, and that stays a 500 so it is seen and fixed.
 */

// SQLSTATE class 08 (connection exception), and the server refusing or ending sessions: admin_shutdown,
// crash_shutdown, cannot_connect_now (starting up, shutting down, recovering), too_many_connections, and
// query_canceled (statement_timeout), since only our own timeouts cancel statements.
const OUTAGE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "57014"]);
const OUTAGE_NODE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// node-postgres and pg-pool report a lost or slow connection only in the message.
const OUTAGE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Client was closed and is not queryable/,
  /^Query read timeout/,
];

/** Whether `error` (from pg, pg-pool or a socket) means the database is down or not answering. */
export function isDatabaseOutage(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = "code" in error && typeof error.code === "string" ? error.code : undefined;
  if (code !== undefined && (code.startsWith("08") || OUTAGE_SQLSTATES.has(code))) return true;
  if (code !== undefined && OUTAGE_NODE_CODES.has(code)) return true;
  if (OUTAGE_MESSAGES.some((pattern) => pattern.test(error.message))) return true;
  // pg-pool wraps a failed connect; node wraps several addresses' failures in an AggregateError.
  if (error instanceof AggregateError) return error.errors.some(isDatabaseOutage);
  return error.cause !== undefined && error.cause !== error && isDatabaseOutage(error.cause);
}
