import type { Deps } from "../../deps.ts";

/** What the photos module works with: the door's options, built by the role from its Deps. */
export interface PhotosContext extends Pick<Deps, "db" | "clock" | "jobs" | "storage" | "log"> {
  /** The largest photo a client may declare (PHOTO_MAX_BYTES). */
  maxBytes: number;
  /** PUBLIC_URL's origin, for links written where no request names the host (the outbox); else undefined. */
  publicOrigin: string | undefined;
}
