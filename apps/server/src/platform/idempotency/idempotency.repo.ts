import { sql } from "kysely";
import type { Executor } from "../db.ts";

export interface KeyRef {
  userId: string;
  key: string;
  requestHash: string;
}

export interface StoredKey {
  requestHash: string;
  statusCode: number | null;
  responseBody: unknown;
  responseHeaders: Record<string, string> | null;
}

/** What a replay repeats of the first answer. */
export interface StoredAnswer {
  statusCode: number;
  body: unknown;
  headers: Record<string, string>;
}

/**
 * Takes a key for a request (status null = running). Answers false when the key is held by a live row.
 * An expired row, or a running row older than `staleBefore` (its process died), is taken over.
 */
export async function claimKey(
  db: Executor,
  ref: KeyRef,
  times: { now: Date; expiresAt: Date; staleBefore: Date },
): Promise<boolean> {
  const { rows } = await sql`
    INSERT INTO idempotency_keys AS k (user_id, key, request_hash, status_code, response_body, created_at, expires_at)
    VALUES (${ref.userId}, ${ref.key}, ${ref.requestHash}, NULL, NULL, ${times.now}, ${times.expiresAt})
    ON CONFLICT (user_id, key) DO UPDATE SET
      request_hash = EXCLUDED.request_hash, status_code = NULL, response_body = NULL, response_headers = NULL,
      created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
    WHERE k.expires_at <= ${times.now} OR (k.status_code IS NULL AND k.created_at <= ${times.staleBefore})
    RETURNING 1
  `.execute(db);
  return rows.length === 1;
}

/** The row holding a key, if any. */
export async function findKey(db: Executor, userId: string, key: string): Promise<StoredKey | undefined> {
  const row = await db
    .selectFrom("idempotency_keys")
    .select(["request_hash", "status_code", "response_body", "response_headers"])
    .where("user_id", "=", userId)
    .where("key", "=", key)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : {
        requestHash: row.request_hash,
        statusCode: row.status_code,
        responseBody: row.response_body,
        responseHeaders: row.response_headers,
      };
}

/** Records the answer of the request that holds the key. */
export async function storeResponse(db: Executor, ref: KeyRef, answer: StoredAnswer): Promise<void> {
  const hasHeaders = Object.keys(answer.headers).length > 0;
  await db
    .updateTable("idempotency_keys")
    .set({
      status_code: answer.statusCode,
      response_body: answer.body === undefined ? null : sql`${JSON.stringify(answer.body)}::jsonb`,
      response_headers: hasHeaders ? sql`${JSON.stringify(answer.headers)}::jsonb` : null,
    })
    .where("user_id", "=", ref.userId)
    .where("key", "=", ref.key)
    .where("request_hash", "=", ref.requestHash)
    .where("status_code", "is", null)
    .execute();
}

/** Gives a key back (the request ended in an answer that is not kept), so a retry runs afresh. */
export async function releaseKey(db: Executor, ref: KeyRef): Promise<void> {
  await db
    .deleteFrom("idempotency_keys")
    .where("user_id", "=", ref.userId)
    .where("key", "=", ref.key)
    .where("request_hash", "=", ref.requestHash)
    .where("status_code", "is", null)
    .execute();
}
