import type { Deps } from "../deps.ts";
import type { NotificationsOptions } from "../modules/notifications/index.ts";
import type { PhotosOptions } from "../modules/photos/index.ts";
import type { DomainStream } from "../platform/outbox/outbox.ts";

// The options each module's door takes, built from Deps and config in one place for every role.

/** PUBLIC_URL's origin, for links written where no request names the host. */
function publicOriginOf(deps: Deps): string | undefined {
  return deps.config.publicUrl === undefined ? undefined : new URL(deps.config.publicUrl).origin;
}

export function photosOptionsOf(deps: Deps): PhotosOptions {
  return {
    db: deps.db,
    clock: deps.clock,
    jobs: deps.jobs,
    storage: deps.storage,
    log: deps.log,
    maxBytes: deps.config.photoMaxBytes,
    publicOrigin: publicOriginOf(deps),
  };
}

export function notificationsOptionsOf(deps: Deps): NotificationsOptions {
  return { db: deps.db, clock: deps.clock, bus: deps.bus, log: deps.log, jobs: deps.jobs };
}

/** The bus stream of domain events (BUS_STREAM_NAME) and its subject prefix, the name lowercased. */
export function domainStreamOf(deps: Pick<Deps, "config">): DomainStream {
  return { name: deps.config.busStreamName, subjectPrefix: deps.config.busStreamName.toLowerCase() };
}
