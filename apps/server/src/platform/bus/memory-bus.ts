import { setTimeout as sleep } from "node:timers/promises";
import { backoffDelayMs, type BackoffPolicy } from "../backoff.ts";
import { subjectMatches } from "./bus.ts";
import type { Bus, BusHandler, BusMessage, DurableConsumerOptions, Subscription } from "./bus.ts";

/*
 * The embedded-mode bus. There is no disk behind it, so crash safety comes from the outbox instead:
 * `publish` resolves only after every bound durable consumer has handled the message, and the relay marks
 * an outbox row sent only after `publish` resolves. A crash before that re-publishes from the outbox.
 */

// Like NATS `max_msgs`: history kept for consumers bound later. Bound consumers never fall this far
// behind, because publish waits for them.
const STREAM_HISTORY = 10_000;
const RETRY_BACKOFF: BackoffPolicy = { firstMs: 50, maxMs: 2_000 };

interface Entry {
  seq: number;
  msg: BusMessage;
}

interface Stream {
  name: string;
  subjects: string[];
  log: Entry[];
  nextSeq: number;
}

interface Member {
  handler: BusHandler;
  inFlight: Promise<void> | null;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

interface Group {
  stream: Stream;
  filter: string;
  maxDeliver: number;
  members: Member[];
  turn: number;
  // Next stream sequence this group has not yet finished with.
  cursor: number;
  waiters: Map<number, Waiter[]>;
  isPumping: boolean;
  pumped: Promise<void>;
}

/** Creates an in-process bus with the same observable behaviour as the NATS driver (see test/bus.contract.ts). */
export function createMemoryBus(): Bus {
  const streams = new Map<string, Stream>();
  const groups = new Map<string, Group>();
  const listeners = new Set<{ pattern: string; handler: BusHandler }>();
  const stopRetries = new AbortController();
  let isClosed = false;

  function streamFor(subject: string): Stream | undefined {
    for (const stream of streams.values()) {
      if (stream.subjects.some((pattern) => subjectMatches(pattern, subject))) return stream;
    }
    return undefined;
  }

  function settle(group: Group, upTo: number): void {
    for (const [seq, waiting] of group.waiters) {
      if (seq >= upTo) continue;
      group.waiters.delete(seq);
      for (const waiter of waiting) waiter.resolve();
    }
  }

  function nextEntry(group: Group): Entry | undefined {
    const log = group.stream.log;
    const first = log[0];
    if (first === undefined) return undefined;
    for (let i = Math.max(0, group.cursor - first.seq); i < log.length; i++) {
      const entry = log[i];
      if (entry && subjectMatches(group.filter, entry.msg.subject)) return entry;
    }
    // Nothing left for this filter: skip the scanned entries for good.
    group.cursor = group.stream.nextSeq;
    return undefined;
  }

  // Runs one handler call, chosen round-robin among the group's members; false when no member is bound.
  async function attempt(group: Group, msg: BusMessage): Promise<boolean> {
    const member = group.members[group.turn++ % group.members.length];
    if (!member) return false;
    const call = Promise.resolve().then(() => member.handler(msg));
    member.inFlight = call.then(
      () => undefined,
      () => undefined,
    );
    try {
      await call;
      return true;
    } finally {
      member.inFlight = null;
    }
  }

  // Delivers the group's backlog one message at a time; returns when it is empty or nobody is bound.
  async function pump(group: Group): Promise<void> {
    for (;;) {
      const entry = isClosed || group.members.length === 0 ? undefined : nextEntry(group);
      if (!entry) {
        // A memberless group holds the backlog for its next binding; publishers need not wait for it.
        if (group.members.length === 0) settle(group, Number.MAX_SAFE_INTEGER);
        group.isPumping = false;
        return;
      }
      const isDone = await deliverWithRetry(group, entry.msg);
      if (!isDone) continue;
      group.cursor = entry.seq + 1;
      settle(group, group.cursor);
    }
  }

  // True once handled or given up on; false when interrupted (closing, or every member left).
  async function deliverWithRetry(group: Group, msg: BusMessage): Promise<boolean> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt(group, msg);
      } catch {
        if (tries >= group.maxDeliver) return true;
        await sleep(backoffDelayMs(RETRY_BACKOFF, tries), undefined, { signal: stopRetries.signal }).catch(
          () => undefined,
        );
        if (isClosed || group.members.length === 0) return false;
      }
    }
  }

  function kick(group: Group): void {
    if (group.isPumping) return;
    group.isPumping = true;
    group.pumped = pump(group);
  }

  function waitFor(group: Group, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiting = group.waiters.get(seq) ?? [];
      waiting.push({ resolve, reject });
      group.waiters.set(seq, waiting);
    });
  }

  return {
    ensureStream(name, subjects) {
      for (const other of streams.values()) {
        const overlaps = subjects.some((s) =>
          other.subjects.some((o) => subjectMatches(o, s) || subjectMatches(s, o)),
        );
        if (other.name !== name && overlaps) {
          return Promise.reject(new Error(`stream ${name}: subjects overlap with stream ${other.name}`));
        }
      }
      const existing = streams.get(name);
      if (existing) existing.subjects = [...subjects];
      else streams.set(name, { name, subjects: [...subjects], log: [], nextSeq: 1 });
      return Promise.resolve();
    },

    publish(msg) {
      if (isClosed) return Promise.reject(new Error("bus closed"));
      // The same copy semantics as a JSON round trip over the wire, and an early error if not serialisable.
      const data: unknown = JSON.parse(JSON.stringify(msg.data ?? null));
      const copy: BusMessage = { subject: msg.subject, id: msg.id, data };
      for (const { pattern, handler } of listeners) {
        if (!subjectMatches(pattern, copy.subject)) continue;
        try {
          Promise.resolve(handler(copy)).catch(() => undefined);
        } catch {
          // A broken live subscriber must not fail the publisher.
        }
      }
      const stream = streamFor(copy.subject);
      if (!stream) return Promise.resolve();
      const seq = stream.nextSeq++;
      stream.log.push({ seq, msg: copy });
      // Trimmed in chunks so a full stream does not shift the whole array on every publish.
      if (stream.log.length > 2 * STREAM_HISTORY) stream.log.splice(0, stream.log.length - STREAM_HISTORY);
      const acks: Promise<void>[] = [];
      for (const group of groups.values()) {
        if (group.stream !== stream || group.members.length === 0) continue;
        if (!subjectMatches(group.filter, copy.subject)) continue;
        acks.push(waitFor(group, seq));
        kick(group);
      }
      return Promise.all(acks).then(() => undefined);
    },

    subscribe(pattern, handler) {
      const listener = { pattern, handler };
      listeners.add(listener);
      return {
        unsubscribe: () => {
          listeners.delete(listener);
          return Promise.resolve();
        },
      };
    },

    consume(opts: DurableConsumerOptions, handler): Promise<Subscription> {
      if (isClosed) return Promise.reject(new Error("bus closed"));
      const stream = streams.get(opts.stream);
      if (!stream) return Promise.reject(new Error(`stream ${opts.stream} not found`));
      const key = `${opts.stream}\u0000${opts.name}`;
      let group = groups.get(key);
      if (!group) {
        group = {
          stream,
          filter: opts.filter,
          maxDeliver: Number.POSITIVE_INFINITY,
          members: [],
          turn: 0,
          cursor: 0,
          waiters: new Map(),
          isPumping: false,
          pumped: Promise.resolve(),
        };
        groups.set(key, group);
      }
      // As with a NATS durable, binding again updates the configuration.
      group.filter = opts.filter;
      group.maxDeliver = opts.maxDeliver ?? Number.POSITIVE_INFINITY;
      const member: Member = { handler, inFlight: null };
      group.members.push(member);
      kick(group);
      const bound = group;
      return Promise.resolve({
        unsubscribe: async () => {
          bound.members = bound.members.filter((m) => m !== member);
          await member.inFlight;
          if (bound.members.length === 0) settle(bound, Number.MAX_SAFE_INTEGER);
        },
      });
    },

    ping() {
      return isClosed ? Promise.reject(new Error("bus closed")) : Promise.resolve();
    },

    async close() {
      if (isClosed) return;
      isClosed = true;
      listeners.clear();
      stopRetries.abort();
      await Promise.all([...groups.values()].map((group) => group.pumped));
      // Not handled, so the outbox must not count these as sent.
      for (const group of groups.values()) {
        for (const waiting of group.waiters.values()) {
          for (const waiter of waiting) waiter.reject(new Error("bus closed before delivery"));
        }
        group.waiters.clear();
      }
    },
  };
}
