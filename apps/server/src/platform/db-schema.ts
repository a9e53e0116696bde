import type { ColumnType, Generated } from "kysely";

// Row types of every table, kept in step with migrations/ (db-schema.int.test.ts fails when they drift).
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export type UserRole = "user" | "moderator" | "admin";

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  role: UserRole;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface AuthSessionsTable {
  id: string;
  user_id: string;
  created_at: CreatedAt;
  revoked_at: Date | null;
}

export interface RefreshTokensTable {
  id: string;
  session_id: string;
  token_hash: string;
  created_at: CreatedAt;
  expires_at: Date;
  rotated_at: Date | null;
}

export interface OutboxTable {
  id: Generated<number>;
  aggregate_type: string;
  aggregate_id: string;
  type: string;
  subject: string;
  payload: unknown;
  created_at: CreatedAt;
  sent_at: Date | null;
}

export interface InboxTable {
  consumer: string;
  message_id: string;
  processed_at: CreatedAt;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_hash: string;
  status_code: number | null;
  response_body: unknown;
  created_at: CreatedAt;
  expires_at: Date;
}

export interface RateLimitCountersTable {
  scope: string;
  key: string;
  window_started_at: Date;
  hits: number;
}

export interface Database {
  users: UsersTable;
  auth_sessions: AuthSessionsTable;
  refresh_tokens: RefreshTokensTable;
  outbox: OutboxTable;
  inbox: InboxTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limit_counters: RateLimitCountersTable;
}
