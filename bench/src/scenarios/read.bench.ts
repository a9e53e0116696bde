import { eventPageSchema, eventSchema } from "@turnout/contracts";
import { measureBaseline } from "../baseline.ts";
import { measureHttp } from "../http-load.ts";
import { createReadDatabase } from "../read-setup.ts";
import type { Scenario } from "../scenario.ts";
import { progress } from "../scenario.ts";
import { startTurnout } from "../turnout-server.ts";

/*
 * read (issue 3): the discovery feed's first page, a search, a filtered page and an event page on a database
 * of 100,000 events, each driven alone with autocannon, beside the bare Fastify baseline in the same run.
 * Turnout runs as in cluster mode with ROLES=api and default settings, except the per-address request
 * limit (RATE_LIMIT_REQUESTS=0): every bench request comes from 127.0.0.1, which would be throttled at
 * 1,200 a minute.
 */

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const EVENT_COUNT = 100_000;
const WARMUP_S = 1;
// Every request says what a browser says: it takes gzip. The baseline gets the same header.
const headers = { "accept-encoding": "gzip, deflate, br" };

const read: Scenario = {
  async run({ durationS, connections }) {
    progress(`read: writing ${EVENT_COUNT} events`);
    const database = await createReadDatabase(ADMIN_URL, EVENT_COUNT);
    const server = await startTurnout(database.url, { RATE_LIMIT_REQUESTS: "0" }).catch(
      async (error: unknown) => {
        await database.drop();
        throw error;
      },
    );
    try {
      const from = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString().slice(0, 13) + ":00:00Z";
      const pages = {
        feed: `${server.baseUrl}/api/events`,
        search: `${server.baseUrl}/api/events?q=jazz`,
        filtered: `${server.baseUrl}/api/events?category=tech&from=${from}`,
        event: `${server.baseUrl}/api/events/${database.eventId}`,
      };
      await expectContent(pages);
      const rates: Record<string, { rps: number; p99Ms: number }> = {};
      for (const [name, url] of Object.entries(pages)) {
        await measureHttp(url, { durationS: WARMUP_S, connections, headers });
        const rate = await measureHttp(url, { durationS, connections, headers });
        rates[name] = rate;
        progress(`read: ${name} ${rate.rps} req/s, p99 ${rate.p99Ms} ms`);
      }
      await server.stop();
      const baseline = await measureBaseline({ durationS, connections, headers });
      const rps = (name: string) => rates[name]?.rps ?? 0;
      const lowest = Math.min(rps("feed"), rps("event"), rps("search"), rps("filtered"));
      return {
        scenario: "read",
        feedRps: rps("feed"),
        eventRps: rps("event"),
        searchRps: rps("search"),
        filteredRps: rps("filtered"),
        baselineRps: baseline.rps,
        ratio: Math.round((lowest / baseline.rps) * 1000) / 1000,
        p99Ms: Math.max(...Object.values(rates).map((rate) => rate.p99Ms)),
        events: EVENT_COUNT,
        connections,
        durationS,
      };
    } finally {
      await server.close();
      await database.drop();
    }
  },
};

export default read;

// A bench that measured empty pages would prove nothing: each page must carry events.
async function expectContent(pages: { feed: string; search: string; filtered: string; event: string }) {
  for (const url of [pages.feed, pages.search, pages.filtered]) {
    const page = eventPageSchema.parse(await (await fetch(url)).json());
    if (page.items.length === 0) throw new Error(`${url} answered an empty page`);
  }
  eventSchema.parse(await (await fetch(pages.event)).json());
}
