import type {
  MyParticipationsQuery,
  Participation,
  ParticipantPage,
  ParticipantsQuery,
} from "@turnout/contracts";
import { z } from "zod";
import { readCursor, writeCursor } from "../../platform/cursor.ts";
import type { Executor } from "../../platform/db.ts";
import { AppError } from "../../platform/errors.ts";
import type { AuthUser } from "../auth/index.ts";
import { canManageAdmission, canSeeAdmission } from "./admission-access.ts";
import { findAdmission } from "./admissions.repo.ts";
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
  const admission = await findAdmission(deps.db, eventId);
  if (admission === undefined || !canSeeAdmission(actor, admission))
    throw new AppError("event.not_found", "No such event.");
  if (!canManageAdmission(actor, admission)) {
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

/**
 * A page of a person's participations, latest join first, for the events module to add each one's event
 * (GET /api/me/participations); `nextCursor` continues after the page.
 */
export async function listMyParticipations(
  db: Executor,
  userId: string,
  query: MyParticipationsQuery,
): Promise<{ items: Participation[]; nextCursor: string | null }> {
  const before = query.cursor === undefined ? undefined : readCursor(query.cursor, queueCursorSchema)[1];
  const rows = await lists.listUserParticipations(db, userId, {
    status: query.status,
    limit: query.limit + 1,
    beforeQueueNumber: before,
  });
  const page = rows.slice(0, query.limit);
  const items = await Promise.all(
    page.map(async (record) => {
      const position =
        record.status === "waitlisted"
          ? await repo.waitlistPosition(db, record.eventId, record.queueNumber)
          : null;
      return repo.toParticipation(record, position);
    }),
  );
  const last = page.at(-1);
  return {
    items,
    nextCursor: rows.length > query.limit && last !== undefined ? writeCursor(["q", last.queueNumber]) : null,
  };
}
