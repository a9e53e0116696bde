import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { subjectMatches } from "../src/platform/bus/bus.ts";
import type { Bus, BusHandler, BusMessage, Subscription } from "../src/platform/bus/bus.ts";

export interface BusContractOptions {
  /** Removes a stream a test created (NATS keeps them across runs). */
  deleteStream?: (name: string) => Promise<void>;
  /** Registers every test as skipped, so a missing dependency shows in the report. */
  skip?: boolean;
}

const POLL = { timeout: 15_000, interval: 5 };

/** Registers the behaviour every bus driver must show; `makeBus` returns a fresh, connected bus. */
export function describeBusContract(
  driver: string,
  makeBus: () => Promise<Bus>,
  opts: BusContractOptions = {},
) {
  describe.skipIf(opts.skip === true)(`bus contract: ${driver}`, () => {
    const buses: Bus[] = [];
    const streams: string[] = [];

    afterEach(async () => {
      await Promise.all(buses.splice(0).map((bus) => bus.close()));
      const { deleteStream } = opts;
      if (deleteStream) await Promise.all(streams.splice(0).map((name) => deleteStream(name)));
    });

    // Each test gets its own bus, and a prefix that is both its stream name and its subject root.
    async function setUp(): Promise<{ bus: Bus; p: string }> {
      const bus = await makeBus();
      buses.push(bus);
      return { bus, p: `t_${randomUUID().slice(0, 8)}` };
    }

    async function createStream(bus: Bus, p: string): Promise<string> {
      streams.push(p);
      await bus.ensureStream(p, [`${p}.>`]);
      return p;
    }

    async function publishAll(bus: Bus, msgs: BusMessage[]): Promise<void> {
      for (const msg of msgs) await bus.publish(msg);
    }

    function numbered(
      p: string,
      count: number,
      subjectOf = (i: number) => `${p}.item.${i % 3}`,
    ): BusMessage[] {
      return Array.from({ length: count }, (_, i) => ({
        subject: subjectOf(i),
        id: `${p}-${i}`,
        data: { i },
      }));
    }

    function recorder(): { ids: string[]; msgs: BusMessage[]; handler: BusHandler } {
      const ids: string[] = [];
      const msgs: BusMessage[] = [];
      const handler: BusHandler = (m) => {
        ids.push(m.id);
        msgs.push(m);
      };
      return { ids, msgs, handler };
    }

    describe("subjectMatches", () => {
      it.each([
        ["a.b.c", "a.b.c", true],
        ["a.b.c", "a.b", false],
        ["a.b", "a.b.c", false],
        ["a.*.c", "a.b.c", true],
        ["a.*.c", "a.b.d", false],
        ["a.*", "a.b.c", false],
        ["a.*", "a", false],
        ["*", "a", true],
        ["a.>", "a.b", true],
        ["a.>", "a.b.c.d", true],
        ["a.>", "a", false],
        [">", "a.b", true],
        ["a.>.c", "a.b.c", false],
        ["*.b.>", "x.b.y", true],
        ["*.b.>", "x.c.y", false],
        ["a*", "ab", false],
        ["a.b", "a..b", false],
      ])("%s vs %s -> %s", (pattern, subject, expected) => {
        expect(subjectMatches(pattern, subject)).toBe(expected);
      });
    });

    it("fans live messages out to every matching pattern and to no other", async () => {
      const { bus, p } = await setUp();
      await createStream(bus, p);
      const [oneToken, created, all] = [recorder(), recorder(), recorder()];
      bus.subscribe(`${p}.*`, oneToken.handler);
      bus.subscribe(`${p}.*.created`, created.handler);
      bus.subscribe(`${p}.>`, all.handler);
      const send = (subject: string, id: string) => bus.publish({ subject, id, data: { id, tags: ["x"] } });
      await send(`${p}.event.created`, "e1");
      await send(`${p}.event.updated`, "e2");
      await send(`${p}.user.event.created`, "e3");
      await send(`${p}.loose`, "e4");
      await send(`other_${p}.event.created`, "e5");
      await send(p, "e6");
      // Delivery is ordered per subscriber, so once these arrive nothing earlier is still on its way.
      await send(`${p}.end.created`, "end1");
      await send(`${p}.end`, "end2");
      await expect.poll(() => created.ids, POLL).toEqual(["e1", "end1"]);
      await expect.poll(() => oneToken.ids, POLL).toEqual(["e4", "end2"]);
      await expect.poll(() => all.ids, POLL).toEqual(["e1", "e2", "e3", "e4", "end1", "end2"]);
      expect(created.msgs[0]).toEqual({
        subject: `${p}.event.created`,
        id: "e1",
        data: { id: "e1", tags: ["x"] },
      });
    });

    it("stops live delivery to a subscription once unsubscribed", async () => {
      const { bus, p } = await setUp();
      const [leaving, staying] = [recorder(), recorder()];
      const sub = bus.subscribe(`${p}.>`, leaving.handler);
      bus.subscribe(`${p}.>`, staying.handler);
      await bus.publish({ subject: `${p}.a`, id: "m1", data: null });
      await expect.poll(() => leaving.ids, POLL).toEqual(["m1"]);
      await sub.unsubscribe();
      await bus.publish({ subject: `${p}.a`, id: "m2", data: null });
      await bus.publish({ subject: `${p}.a`, id: "m3", data: null });
      await expect.poll(() => staying.ids, POLL).toEqual(["m1", "m2", "m3"]);
      expect(leaving.ids).toEqual(["m1"]);
    });

    it("delivers every durable message exactly in publish order", async () => {
      const { bus, p } = await setUp();
      const stream = await createStream(bus, p);
      const got = recorder();
      await bus.consume({ stream, name: "ordered", filter: `${p}.>` }, got.handler);
      const sent = numbered(p, 500);
      await publishAll(bus, sent);
      await expect.poll(() => got.ids.length, POLL).toBe(500);
      expect(got.ids).toEqual(sent.map((m) => m.id));
      expect(got.msgs[7]).toEqual(sent[7]);
    });

    it("delivers only what the consumer filter selects", async () => {
      const { bus, p } = await setUp();
      const stream = await createStream(bus, p);
      const got = recorder();
      await bus.consume({ stream, name: "filtered", filter: `${p}.item.1` }, got.handler);
      const sent = numbered(p, 30);
      await publishAll(bus, sent);
      const wanted = sent.filter((m) => m.subject === `${p}.item.1`).map((m) => m.id);
      await expect.poll(() => got.ids, POLL).toEqual(wanted);
      expect(wanted).toHaveLength(10);
    });

    it("retries a failed message before any later one, then continues in order", async () => {
      const { bus, p } = await setUp();
      const stream = await createStream(bus, p);
      const attempts: string[] = [];
      const done: string[] = [];
      await bus.consume({ stream, name: "flaky", filter: `${p}.>` }, (m) => {
        attempts.push(m.id);
        if (m.id === `${p}-3` && attempts.filter((id) => id === m.id).length === 1)
          throw new Error("first try fails");
        done.push(m.id);
      });
      const sent = numbered(p, 10);
      await publishAll(bus, sent);
      await expect.poll(() => done, POLL).toEqual(sent.map((m) => m.id));
      const ids = sent.map((m) => m.id);
      expect(attempts).toEqual([...ids.slice(0, 4), ...ids.slice(3)]);
    });

    it("gives up on a message after maxDeliver attempts and moves on", async () => {
      const { bus, p } = await setUp();
      const stream = await createStream(bus, p);
      const attempts: string[] = [];
      const done: string[] = [];
      await bus.consume({ stream, name: "poison", filter: `${p}.>`, maxDeliver: 3 }, (m) => {
        attempts.push(m.id);
        if (m.id === `${p}-1`) throw new Error("always fails");
        done.push(m.id);
      });
      await publishAll(bus, numbered(p, 4));
      await expect.poll(() => done, POLL).toEqual([`${p}-0`, `${p}-2`, `${p}-3`]);
      expect(attempts).toEqual([`${p}-0`, `${p}-1`, `${p}-1`, `${p}-1`, `${p}-2`, `${p}-3`]);
    });

    it("splits work between two bindings of one durable, none twice and none lost", async () => {
      const { bus, p } = await setUp();
      const stream = await createStream(bus, p);
      const [first, second] = [recorder(), recorder()];
      // A little work per message so both bindings are asked for messages.
      const slow =
        (into: BusHandler): BusHandler =>
        async (m) => {
          await sleep(2);
          await into(m);
        };
      await bus.consume({ stream, name: "shared", filter: `${p}.>` }, slow(first.handler));
      await bus.consume({ stream, name: "shared", filter: `${p}.>` }, slow(second.handler));
      const sent = numbered(p, 100);
      await publishAll(bus, sent);
      await expect.poll(() => first.ids.length + second.ids.length, POLL).toBe(100);
      await sleep(200); // a message delivered twice would show up here
      const all = [...first.ids, ...second.ids];
      expect(new Set(all).size).toBe(100);
      expect([...all].sort()).toEqual(sent.map((m) => m.id).sort());
      expect(first.ids.length).toBeGreaterThan(0);
      expect(second.ids.length).toBeGreaterThan(0);
      const order = new Map(sent.map((m, i) => [m.id, i]));
      for (const ids of [first.ids, second.ids]) {
        const seen = ids.map((id) => order.get(id) ?? -1);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
      }
    });

    it("keeps messages for a durable consumer bound after they were published", async () => {
      const { bus, p } = await setUp();
      const stream = await createStream(bus, p);
      const sent = numbered(p, 20);
      await publishAll(bus, sent);
      const got = recorder();
      await bus.consume({ stream, name: "late", filter: `${p}.>` }, got.handler);
      await expect.poll(() => got.ids, POLL).toEqual(sent.map((m) => m.id));
    });

    it("resumes a durable after its last acknowledged message when bound again", async () => {
      const { bus, p } = await setUp();
      const stream = await createStream(bus, p);
      const sent = numbered(p, 10);
      const before = recorder();
      const sub: Subscription = await bus.consume(
        { stream, name: "resume", filter: `${p}.>` },
        before.handler,
      );
      await publishAll(bus, sent.slice(0, 5));
      await expect.poll(() => before.ids.length, POLL).toBe(5);
      await sub.unsubscribe();
      await publishAll(bus, sent.slice(5));
      const after = recorder();
      await bus.consume({ stream, name: "resume", filter: `${p}.>` }, after.handler);
      await expect.poll(() => after.ids, POLL).toEqual(sent.slice(5).map((m) => m.id));
      expect(before.ids).toEqual(sent.slice(0, 5).map((m) => m.id));
    });

    it("answers ping while open, and refuses ping and publish once closed", async () => {
      const { bus, p } = await setUp();
      await createStream(bus, p);
      await expect(bus.ping()).resolves.toBeUndefined();
      await bus.close();
      await expect(bus.ping()).rejects.toThrow();
      await expect(bus.publish({ subject: `${p}.a`, id: "late", data: 1 })).rejects.toThrow();
      await expect(bus.publish({ subject: `other_${p}.a`, id: "late2", data: 1 })).rejects.toThrow();
    });
  });
}
