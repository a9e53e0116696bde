import type { EventCategory } from "@turnout/contracts";
import { type SqlBool, sql } from "kysely";
import type { Executor } from "../../platform/db.ts";
import type { RankKey, TimeKey } from "./cursor.ts";
import { EVENT_COLUMNS, type EventRecord, STARTS_AT_KEY, toEventRecord } from "./events.repo.ts";

/** What the discovery feed is filtered by; times are already Dates. */
export interface FeedFilter {
  q?: string;
  category?: EventCategory;
  tag?: string;
  from?: Date;
  to?: Date;
  organizerId?: string;
}

export interface FeedPage {
  filter: FeedFilter;
  limit: number;
  /** Time cursor for plain pages, rank cursor when `filter.q` is set. */
  after?: TimeKey | RankKey;
  now: Date;
}

// Literal, not parameters, so the planner can always match the partial indexes' predicate.
const LISTED = sql<SqlBool>`events.status = 'published' AND events.visibility = 'public'`;

/*
 * "Not ended" is split in two disjoint parts, each served by its own index: events running now (the GiST
 * index on their time range; few at any moment) and events starting after now (the btree indexes on
 * starts_at). A plain `ends_at > now` ordered by starts_at would walk every past event in the index before
 * the first one still running, and that history only grows.
 */
const isRunning = (now: Date) =>
  sql<SqlBool>`tstzrange(events.starts_at, events.ends_at) @> ${now}::timestamptz`;

/**
 * The feed query, exactly as listFeed runs it (the plan test EXPLAINs it): listed events that have not ended,
 * ordered by (startsAt, id), or by search rank first when `q` is set; `limit` rows. Each part (running,
 * upcoming) yields its own first `limit` rows in that order, and the union keeps the first `limit` of both.
 */
export function buildFeedQuery(db: Executor, page: FeedPage) {
  const { filter, now } = page;
  const tsquery = sql`websearch_to_tsquery('english', ${filter.q ?? ""})`;
  const rank = sql<number>`ts_rank(events.search_vector, ${tsquery})`;
  const isSearch = filter.q !== undefined;

  let part = db
    .selectFrom("events")
    .select(EVENT_COLUMNS.map((column) => `events.${column}` as const))
    .select([
      STARTS_AT_KEY.as("starts_at_key"),
      (isSearch ? rank : sql<number>`0`).as("rank"),
      (isSearch ? sql<string>`${rank}::text` : sql<string>`''`).as("rank_key"),
    ])
    .where(LISTED);
  if (filter.category !== undefined) part = part.where("events.category", "=", filter.category);
  if (filter.tag !== undefined) part = part.where(sql<SqlBool>`events.tags @> ARRAY[${filter.tag}]::text[]`);
  if (filter.organizerId !== undefined) part = part.where("events.organizer_id", "=", filter.organizerId);
  if (filter.from !== undefined) part = part.where("events.starts_at", ">=", filter.from);
  if (filter.to !== undefined) part = part.where("events.starts_at", "<", filter.to);
  if (isSearch) part = part.where(sql<SqlBool>`events.search_vector @@ ${tsquery}`);

  const after = page.after;
  const afterTime = (key: TimeKey) =>
    sql<SqlBool>`(events.starts_at, events.id) > (${key.startsAt}::timestamptz, ${key.id}::uuid)`;
  if (after !== undefined && "rank" in after) {
    part = part.where(
      sql<SqlBool>`(${rank} < ${after.rank}::real OR (${rank} = ${after.rank}::real AND ${afterTime(after)}))`,
    );
  } else if (after !== undefined) {
    part = part.where(afterTime(after));
  }
  if (isSearch) part = part.orderBy(rank, "desc");
  part = part.orderBy("events.starts_at").orderBy("events.id").limit(page.limit);

  const running = part.where(isRunning(now));
  const upcoming = part.where("events.starts_at", ">", now);
  const both = db
    .selectFrom(running.as("running"))
    .selectAll()
    .unionAll(db.selectFrom(upcoming.as("upcoming")).selectAll());
  return db
    .selectFrom(both.as("page"))
    .innerJoin("user_names", "user_names.id", "page.organizer_id")
    .selectAll("page")
    .select("user_names.name as organizer_name")
    .orderBy("page.rank", "desc")
    .orderBy("page.starts_at")
    .orderBy("page.id")
    .limit(page.limit);
}

/** One page of the feed: records with the key each one's cursor is made of. */
export async function listFeed(
  db: Executor,
  page: FeedPage,
): Promise<{ record: EventRecord; key: TimeKey | RankKey }[]> {
  const rows = await buildFeedQuery(db, page).execute();
  const isSearch = page.filter.q !== undefined;
  return rows.map((row) => {
    const time = { startsAt: row.starts_at_key, id: row.id };
    return { record: toEventRecord(row), key: isSearch ? { ...time, rank: row.rank_key } : time };
  });
}

/** The query countUpcomingByCategory runs (the plan test EXPLAINs it): running and upcoming, counted apart. */
export function buildCategoryCountQuery(db: Executor, now: Date) {
  const part = db
    .selectFrom("events")
    .select(["events.category", (eb) => eb.fn.countAll<number>().as("count")])
    .where(LISTED)
    .groupBy("events.category");
  const both = part
    .where(isRunning(now))
    .unionAll(part.where("events.starts_at", ">", now))
    .as("part");
  return db
    .selectFrom(both)
    .select(["part.category", sql<number>`sum(part.count)::int`.as("count")])
    .groupBy("part.category");
}

/** How many listed events that have not ended each category holds; categories without any are absent. */
export async function countUpcomingByCategory(db: Executor, now: Date): Promise<Map<string, number>> {
  const rows = await buildCategoryCountQuery(db, now).execute();
  return new Map(rows.map((row) => [row.category, row.count]));
}
