import type { Db } from "../../platform/db.ts";
import type { Logger } from "../../platform/logger.ts";
import { BUILTIN_SOURCE_ID, readActiveWriteKeys } from "./sources.repo.ts";

/**
 * The collector's view of the active write keys, held in memory and re-read every `refreshMs` so the request
 * path does no database work (DESIGN.md). A revoked key therefore keeps working for up to `refreshMs`
 * in another process; in this process `refresh()` after a revocation makes it immediate.
 */
export interface WriteKeys {
  /** The source of a write key (no key: the built-in source); null for an unknown or revoked key. */
  sourceOf(writeKey: string | undefined): string | null;
  refresh(): Promise<void>;
  stop(): void;
}

export async function startWriteKeys(db: Db, log: Logger, refreshMs: number): Promise<WriteKeys> {
  let keys = await readActiveWriteKeys(db);
  const refresh = async () => {
    keys = await readActiveWriteKeys(db);
  };
  const timer = setInterval(() => {
    // An outage keeps the last known keys: the collector goes on accepting while PostgreSQL is away.
    refresh().catch((error: unknown) => {
      log.warn({ err: error }, "write keys not refreshed");
    });
  }, refreshMs);
  timer.unref();
  return {
    sourceOf: (writeKey) => (writeKey === undefined ? BUILTIN_SOURCE_ID : (keys.get(writeKey) ?? null)),
    refresh,
    stop: () => {
      clearInterval(timer);
    },
  };
}
