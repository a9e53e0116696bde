import type { User, UserRole } from "@turnout/contracts";
import { sql } from "kysely";
import type { Executor, Trx } from "../../platform/db.ts";

// Any constant works: it only has to be the same for every process electing the first admin.
const FIRST_ADMIN_LOCK = 7_345_001;

const USER_COLUMNS = ["id", "email", "name", "role", "created_at"] as const;

function toUser(row: { id: string; email: string; name: string; role: UserRole; created_at: Date }): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    createdAt: row.created_at.toISOString(),
  };
}

/** True when the error is the unique index on lower(email) refusing a second account. */
export function isEmailTaken(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    error.code === "23505" &&
    "constraint" in error &&
    error.constraint === "users_email_key"
  );
}

/** Inserts a user; throws the unique violation that isEmailTaken recognises when the email is in use. */
export async function insertUser(
  db: Executor,
  user: { id: string; email: string; name: string; passwordHash: string; role: UserRole; now: Date },
): Promise<User> {
  const row = await db
    .insertInto("users")
    .values({
      id: user.id,
      email: user.email,
      name: user.name,
      password_hash: user.passwordHash,
      role: user.role,
      created_at: user.now,
      updated_at: user.now,
    })
    .returning(USER_COLUMNS)
    .executeTakeFirstOrThrow();
  return toUser(row);
}

/** True when at least one account exists. */
export async function hasAnyUser(db: Executor): Promise<boolean> {
  const row = await db.selectFrom("users").select("id").limit(1).executeTakeFirst();
  return row !== undefined;
}

/** Serialises "is this the first account?" decisions until the transaction ends. */
export async function lockFirstAdminElection(trx: Trx): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${FIRST_ADMIN_LOCK})`.execute(trx);
}

/** The account for an email (case-insensitive), with its password hash. */
export async function findAccountByEmail(
  db: Executor,
  email: string,
): Promise<{ user: User; passwordHash: string } | undefined> {
  const row = await db
    .selectFrom("users")
    .select([...USER_COLUMNS, "password_hash"])
    .where(sql<string>`lower(email)`, "=", email.toLowerCase())
    .executeTakeFirst();
  return row === undefined ? undefined : { user: toUser(row), passwordHash: row.password_hash };
}

/** The user with this id, optionally locking the row for the rest of the transaction. */
export async function findUserById(
  db: Executor,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<User | undefined> {
  let query = db.selectFrom("users").select(USER_COLUMNS).where("id", "=", id);
  if (options.forUpdate === true) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toUser(row);
}

/** Changes a user's name and/or role; returns the updated user, or undefined when there is none. */
export async function updateUser(
  db: Executor,
  id: string,
  changes: { name?: string; role?: UserRole; now: Date },
): Promise<User | undefined> {
  const row = await db
    .updateTable("users")
    .set({
      updated_at: changes.now,
      ...(changes.name === undefined ? {} : { name: changes.name }),
      ...(changes.role === undefined ? {} : { role: changes.role }),
    })
    .where("id", "=", id)
    .returning(USER_COLUMNS)
    .executeTakeFirst();
  return row === undefined ? undefined : toUser(row);
}

/** Ids of every admin, locked, so concurrent demotions cannot both see "another admin is left". */
export async function lockAdminIds(trx: Trx): Promise<string[]> {
  const rows = await trx
    .selectFrom("users")
    .select("id")
    .where("role", "=", "admin")
    .orderBy("id")
    .forUpdate()
    .execute();
  return rows.map((row) => row.id);
}

/** Starts a login: one auth_sessions row. */
export async function insertSession(
  db: Executor,
  session: { id: string; userId: string; now: Date },
): Promise<void> {
  await db
    .insertInto("auth_sessions")
    .values({ id: session.id, user_id: session.userId, created_at: session.now })
    .execute();
}

/** Ends a login: none of its refresh tokens works from now on. Revoking twice keeps the first time. */
export async function revokeSession(db: Executor, sessionId: string, now: Date): Promise<void> {
  await db
    .updateTable("auth_sessions")
    .set({ revoked_at: now })
    .where("id", "=", sessionId)
    .where("revoked_at", "is", null)
    .execute();
}

/** Stores a refresh token by its hash. */
export async function insertRefreshToken(
  db: Executor,
  token: { id: string; sessionId: string; tokenHash: string; now: Date; expiresAt: Date },
): Promise<void> {
  await db
    .insertInto("refresh_tokens")
    .values({
      id: token.id,
      session_id: token.sessionId,
      token_hash: token.tokenHash,
      created_at: token.now,
      expires_at: token.expiresAt,
    })
    .execute();
}

export interface StoredRefreshToken {
  id: string;
  sessionId: string;
  userId: string;
  expiresAt: Date;
  rotatedAt: Date | null;
  sessionRevokedAt: Date | null;
}

/** The refresh token with this hash and its session; `lock` holds the token row until the transaction ends. */
export async function findRefreshToken(
  db: Executor,
  tokenHash: string,
  options: { lock?: boolean } = {},
): Promise<StoredRefreshToken | undefined> {
  let query = db
    .selectFrom("refresh_tokens as t")
    .innerJoin("auth_sessions as s", "s.id", "t.session_id")
    .select(["t.id", "t.session_id", "s.user_id", "t.expires_at", "t.rotated_at", "s.revoked_at"])
    .where("t.token_hash", "=", tokenHash);
  if (options.lock === true) query = query.forUpdate("t");
  const row = await query.executeTakeFirst();
  if (row === undefined) return undefined;
  return {
    id: row.id,
    sessionId: row.session_id,
    userId: row.user_id,
    expiresAt: row.expires_at,
    rotatedAt: row.rotated_at,
    sessionRevokedAt: row.revoked_at,
  };
}

/** Marks a refresh token as used: presenting it again is reuse. */
export async function markRefreshTokenRotated(db: Executor, id: string, now: Date): Promise<void> {
  await db.updateTable("refresh_tokens").set({ rotated_at: now }).where("id", "=", id).execute();
}
