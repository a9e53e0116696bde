import { type Kysely, sql } from "kysely";

// The auth module owns `users`; other modules show people by name (an event's organizer, a participant
// list). They read names through this view, auth's published read-only shape of a user, instead of joining
// `users` itself (ADR 0011): the view is the contract, so auth may change its table behind it. A plain view
// is inlined by the planner, so a join to it plans exactly as the join to `users` did.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE VIEW user_names AS SELECT id, name FROM users`.execute(db);
}
