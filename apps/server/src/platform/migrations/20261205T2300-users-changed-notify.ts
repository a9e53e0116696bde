import { type Kysely, sql } from "kysely";

// Every process keeps a cache of each user's current role and existence (modules/auth/current-users.ts,
// ADR 0009). A trigger, not the application, sends the notification, so it goes out in the same
// transaction as the change whoever makes it: the admin route, a script, or an operator's DELETE in psql.
// The payload is the user's id; '*' (TRUNCATE) means every user.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE FUNCTION notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('turnout_users', '*');
      ELSE
        PERFORM pg_notify('turnout_users', OLD.id::text);
      END IF;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER users_role_changed AFTER UPDATE OF role, id ON users
      FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.id IS DISTINCT FROM NEW.id)
      EXECUTE FUNCTION notify_user_changed();
    CREATE TRIGGER users_deleted AFTER DELETE ON users
      FOR EACH ROW EXECUTE FUNCTION notify_user_changed();
    CREATE TRIGGER users_truncated AFTER TRUNCATE ON users
      FOR EACH STATEMENT EXECUTE FUNCTION notify_user_changed();
  `.execute(db);
}
