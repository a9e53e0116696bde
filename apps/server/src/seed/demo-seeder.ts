import type { Deps } from "../deps.ts";
import { register } from "../modules/auth/index.ts";
import type { AuthUser } from "../modules/auth/index.ts";
import { cancelEvent, createEvent, publishEvent } from "../modules/events/index.ts";
import { createAdmissionQueue } from "../modules/participation/index.ts";
import type { Db } from "../platform/db.ts";
import type { Metrics } from "../platform/metrics.ts";
import { buildDemoEvents, DEMO_PASSWORD, DEMO_PEOPLE } from "./demo-data.ts";

export type SeedDeps = Pick<Deps, "db" | "clock" | "config" | "secrets"> & { metrics: Metrics };

export interface SeedSummary {
  skipped: boolean;
  users: number;
  events: number;
  joins: number;
}

/**
 * Fills an instance with the demo people and events, through the same services the API uses (so every
 * row, hash and outbox message is what the app itself writes). Does nothing if the demo people exist.
 * On an empty instance the first demo person becomes the admin, like any first account.
 */
export async function seedDemo(deps: SeedDeps): Promise<SeedSummary> {
  const firstEmail = DEMO_PEOPLE[0]?.email ?? "";
  if (await hasUser(deps.db, firstEmail)) return { skipped: true, users: 0, events: 0, joins: 0 };

  const people: AuthUser[] = [];
  for (const person of DEMO_PEOPLE) {
    const { user } = await register(
      deps,
      { ...person, password: DEMO_PASSWORD },
      { ip: "127.0.0.1", acceptLanguage: undefined },
    );
    // The services read the acting user's id and role; the session is never consulted.
    people.push({ id: user.id, role: user.role, sessionId: user.id });
  }

  const admission = createAdmissionQueue(deps);
  let events = 0;
  let joins = 0;
  for (const [index, demo] of buildDemoEvents(deps.clock.now()).entries()) {
    const organizer = people[demo.organizerIndex];
    if (organizer === undefined) continue;
    const draft = await createEvent(deps, organizer, demo.body);
    events++;
    if (demo.fate === "draft" || draft.ended) continue;
    await publishEvent(deps, organizer, draft.id);
    // A lively feed: a few of the others join each upcoming event.
    const guests = people.filter((person) => person.id !== organizer.id).slice(0, index % 7);
    for (const guest of guests) {
      await admission.join(draft.id, guest.id);
      joins++;
    }
    if (demo.fate === "cancelled") await cancelEvent(deps, organizer, draft.id, "The venue is unavailable.");
  }
  await admission.drain();
  return { skipped: false, users: people.length, events, joins };
}

async function hasUser(db: Db, email: string): Promise<boolean> {
  const row = await db.selectFrom("users").select("id").where("email", "=", email).executeTakeFirst();
  return row !== undefined;
}
