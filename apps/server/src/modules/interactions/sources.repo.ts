import type { Source } from "@turnout/contracts";
import type { Executor } from "../../platform/db.ts";

/** The built-in source of Turnout's own web app (created by the migration): used when no write key is sent. */
export const BUILTIN_SOURCE_ID = "00000000-0000-7000-8000-000000000001";

const COLUMNS = ["id", "name", "write_key", "created_at"] as const;

function toSource(row: { id: string; name: string; write_key: string; created_at: Date }): Source {
  return { id: row.id, name: row.name, writeKey: row.write_key, createdAt: row.created_at.toISOString() };
}

export async function insertSource(
  db: Executor,
  values: { id: string; name: string; writeKey: string },
): Promise<Source> {
  const row = await db
    .insertInto("sources")
    .values({ id: values.id, name: values.name, write_key: values.writeKey })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toSource(row);
}

/** Sources whose keys still work, oldest first. */
export async function listActiveSources(db: Executor): Promise<Source[]> {
  const rows = await db
    .selectFrom("sources")
    .select(COLUMNS)
    .where("revoked_at", "is", null)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map(toSource);
}

/** Revokes a source's key; false when there is no such active, revocable source. */
export async function revokeSource(db: Executor, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable("sources")
    .set({ revoked_at: now })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .where("is_builtin", "=", false)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Write key -> source id of every active source. */
export async function readActiveWriteKeys(db: Executor): Promise<Map<string, string>> {
  const rows = await db
    .selectFrom("sources")
    .select(["id", "write_key"])
    .where("revoked_at", "is", null)
    .execute();
  return new Map(rows.map((row) => [row.write_key, row.id]));
}
