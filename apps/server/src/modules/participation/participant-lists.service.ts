import type {
  MyParticipationPage,
  MyParticipationsQuery,
  ParticipantPage,
  ParticipantsQuery,
} from "@turnout/contracts";
import { z } from "zod";
import { readCursor, writeCursor } from "../../platform/cursor.ts";
import { AppError } from "../../platform/errors.ts";
import type { AuthUser } from "../auth/index.ts";
import { canManageEvent, canSeeEvent, findEventAdmission, findEventsByIds } from "../events/index.ts";
import * as lists from "./participant-lists.repo.ts";
import * as repo from "./participation.repo.ts";
import type { ParticipationDeps } from "./participation.service.ts";

// Lists are keyset-paged on the queue number: people joining between pages land after the last one seen.
const queueCursorSchema = z.tuple([z.literal("q"), z.number().int().min(0)]);

/**
 * An event's confirmed or waitlisted people in queue order (organizer, moderators+; others 403). Waitlisted
 * people carry their position, counted once per page and then in step.
 */
export async function listParticipants(
  deps: ParticipationDeps,
  actor: AuthUser,
  eventId: string,
  query: ParticipantsQuery,
): Promise<ParticipantPage> {
  const event = await findEventAdmission(deps.db, eventId);
  if (event === undefined || !canSeeEvent(actor, event))
    throw new AppError("event.not_found", "No such event.");
  if (!canManageEvent(actor, event)) {
    throw new AppError("auth.forbidden", "Only the organizer or a moderator may list participants.");
  }
  const after = query.cursor === undefined ? undefined : readCursor(query.cursor, queueCursorSchema)[1];
  const rows = await lists.listParticipants(deps.db, eventId, {
    status: query.status,
    limit: query.limit + 1,
    afterQueueNumber: after,
  });
  const page = rows.slice(0, query.limit);
  const first = page[0];
  let position =
    query.status === "waitlisted" && first !== undefined
      ? await repo.waitlistPosition(deps.db, eventId, first.record.queueNumber)
      : 0;
  const last = page.at(-1);
  return {
    items: page.map(({ record, userName }) => ({
      ...repo.toParticipation(record, query.status === "waitlisted" ? position++ : null),
      user: { id: record.userId, name: userName },
    })),
    nextCursor:
      rows.length > query.limit && last !== undefined ? writeCursor(["q", last.record.queueNumber]) : null,
  };
}

/** The caller's participations, latest join first, each with its event. */
export async function listMyParticipations(
  deps: ParticipationDeps,
  actor: AuthUser,
  query: MyParticipationsQuery,
): Promise<MyParticipationPage> {
  const before = query.cursor === undefined ? undefined : readCursor(query.cursor, queueCursorSchema)[1];
  const rows = await lists.listUserParticipations(deps.db, actor.id, {
    status: query.status,
    limit: query.limit + 1,
    beforeQueueNumber: before,
  });
  const page = rows.slice(0, query.limit);
  const events = await findEventsByIds(
    deps,
    page.map((record) => record.eventId),
  );
  const items = await Promise.all(
    page.flatMap((record) => {
      const event = events.get(record.eventId);
      if (event === undefined) return [];
      return [
        (async () => {
          const position =
            record.status === "waitlisted"
              ? await repo.waitlistPosition(deps.db, record.eventId, record.queueNumber)
              : null;
          return { ...repo.toParticipation(record, position), event };
        })(),
      ];
    }),
  );
  const last = page.at(-1);
  return {
    items,
    nextCursor: rows.length > query.limit && last !== undefined ? writeCursor(["q", last.queueNumber]) : null,
  };
}
