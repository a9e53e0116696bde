import { type Kysely, sql } from "kysely";

// Photo uploads and the photos made from them (modules/photos owns both tables).
//
// An upload is a grant to put one object into storage; completing it creates its photo (one per upload: the
// unique upload_id makes a repeated or concurrent `complete` find the same photo). A photo is `processing`
// until the job has checked and re-encoded its bytes, then `ready` (with its files and size) or `rejected`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE photo_uploads (
      id uuid PRIMARY KEY,
      event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      uploader_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      content_type text NOT NULL,
      declared_size bigint NOT NULL CHECK (declared_size > 0),
      filename text,
      storage_key text NOT NULL,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE photos (
      id uuid PRIMARY KEY,
      event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
      upload_id uuid NOT NULL UNIQUE REFERENCES photo_uploads (id) ON DELETE CASCADE,
      uploader_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      status text NOT NULL CHECK (status IN ('processing', 'ready', 'rejected')),
      width integer,
      height integer,
      full_key text,
      thumb_key text,
      rejected_reason text,
      created_at timestamptz NOT NULL,
      CONSTRAINT photos_ready_has_files CHECK (
        status <> 'ready' OR (width IS NOT NULL AND height IS NOT NULL AND full_key IS NOT NULL AND thumb_key IS NOT NULL)
      )
    );

    -- The wall: an event's ready photos, newest first (ids are UUIDv7, so id order is creation order).
    CREATE INDEX photos_wall_idx ON photos (event_id, id DESC) WHERE status = 'ready';
  `.execute(db);
}
