import { setTimeout as sleep } from "node:timers/promises";
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  StorageType,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { Consumer, ConsumerConfig, ConsumerMessages, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { connect, deadline, headers, nanos } from "@nats-io/transport-node";
import type { Msg, MsgHdrs } from "@nats-io/transport-node";
import { backoffDelayMs, type BackoffPolicy } from "../backoff.ts";
import { subjectMatches } from "./bus.ts";
import type { Bus, BusHandler, BusMessage, DurableConsumerOptions, Subscription } from "./bus.ts";

// JetStream sets this header from `msgID` and deduplicates on it; core publishes carry it too.
const ID_HEADER = "Nats-Msg-Id";
const DUPLICATE_WINDOW_MS = 2 * 60_000;
const DEFAULT_ACK_WAIT_MS = 30_000;
const RETRY_BACKOFF: BackoffPolicy = { firstMs: 50, maxMs: 2_000 };
const PING_TIMEOUT_MS = 2_000;
// Streams created by other processes are looked up by subject; remember answers briefly.
const LOOKUP_TTL_MS = 5_000;
const LOOKUP_CACHE_MAX = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Binding {
  // Aborted on unsubscribe or close; also cuts short the pause before a new pull.
  stop: AbortController;
  messages: ConsumerMessages | null;
  done: Promise<void>;
}

export interface NatsBusOptions {
  /** The connection's name, as NATS's monitoring shows it. */
  name?: string;
  /** Replicas of the streams ensureStream creates (NATS_STREAM_REPLICAS; default 1). */
  streamReplicas?: number;
}

/** Connects to NATS at `url` and returns a JetStream-backed bus; rejects when NATS is unreachable. */
export async function connectNatsBus(url: string, opts: NatsBusOptions = {}): Promise<Bus> {
  const nc = await connect({ servers: url, name: opts.name ?? "turnout", maxReconnectAttempts: -1 });
  const js = jetstream(nc);
  let jsm: JetStreamManager;
  try {
    jsm = await jetstreamManager(nc);
  } catch (err) {
    await nc.close();
    throw err;
  }
  const ensured = new Map<string, string[]>();
  const lookups = new Map<string, { isCaptured: boolean; until: number }>();
  const bindings = new Set<Binding>();
  let isClosed = false;

  async function isCaptured(subject: string): Promise<boolean> {
    for (const subjects of ensured.values()) {
      if (subjects.some((pattern) => subjectMatches(pattern, subject))) return true;
    }
    const cached = lookups.get(subject);
    if (cached && cached.until > Date.now()) return cached.isCaptured;
    const found = await jsm.streams.find(subject).then(
      () => true,
      (err: unknown) => {
        if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return false;
        throw err;
      },
    );
    if (lookups.size >= LOOKUP_CACHE_MAX) lookups.clear();
    lookups.set(subject, { isCaptured: found, until: Date.now() + LOOKUP_TTL_MS });
    return found;
  }

  async function upsertConsumer(o: DurableConsumerOptions): Promise<void> {
    const config: Partial<ConsumerConfig> = {
      durable_name: o.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(o.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
      max_deliver: o.maxDeliver ?? -1,
      filter_subject: o.filter,
      // One unacknowledged message at a time: a retried message blocks the ones behind it, keeping order.
      max_ack_pending: 1,
    };
    try {
      await jsm.consumers.info(o.stream, o.name);
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
      try {
        await jsm.consumers.add(o.stream, config);
        return;
      } catch (addErr) {
        // Another process may have created it since the lookup; then it is updated below like any other.
        const exists = await jsm.consumers.info(o.stream, o.name).then(
          () => true,
          () => false,
        );
        if (!exists) throw addErr;
      }
    }
    await jsm.consumers.update(o.stream, o.name, config);
  }

  async function handleOne(m: JsMsg, handler: BusHandler, o: DurableConsumerOptions): Promise<void> {
    let msg: BusMessage;
    try {
      msg = decode(m.subject, m.headers, m.data);
    } catch {
      // Would fail on every redelivery. No reason text: servers before 2.10.4 ignore a TERM that has one.
      m.term();
      return;
    }
    // Long handlers must not be redelivered to another binding while still running.
    const ackWaitMs = o.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    const keepAlive = setInterval(() => {
      m.working();
    }, ackWaitMs / 2);
    try {
      await handler(msg);
      m.ack();
    } catch {
      const tries = m.info.deliveryCount;
      if (o.maxDeliver !== undefined && tries >= o.maxDeliver) m.term();
      else m.nak(backoffDelayMs(RETRY_BACKOFF, tries));
    } finally {
      clearInterval(keepAlive);
    }
  }

  async function runBinding(
    binding: Binding,
    consumer: Consumer,
    o: DurableConsumerOptions,
    handler: BusHandler,
  ) {
    while (!isStopped(binding)) {
      try {
        const messages = await consumer.consume({ max_messages: 16 });
        binding.messages = messages;
        if (isStopped(binding)) await messages.close();
        for await (const m of messages) {
          // Buffered after a stop: hand back at once instead of waiting out ack_wait.
          if (isStopped(binding)) m.nak();
          else await handleOne(m, handler, o);
        }
      } catch {
        // The pull failed (consumer or stream gone, connection closed); a fresh one follows a pause.
      }
      // Rejects at once when stopped.
      await sleep(1_000, undefined, { signal: binding.stop.signal }).catch(() => undefined);
    }
  }

  async function stopBinding(binding: Binding): Promise<void> {
    binding.stop.abort();
    await binding.messages?.close();
    await binding.done;
    bindings.delete(binding);
    if (!nc.isClosed()) await nc.flush().catch(() => undefined);
  }

  return {
    async ensureStream(name, subjects) {
      try {
        const info = await jsm.streams.info(name);
        const current = info.config.subjects;
        const isSame = current.length === subjects.length && subjects.every((s) => current.includes(s));
        if (!isSame) await jsm.streams.update(name, { subjects });
      } catch (err) {
        if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
        await jsm.streams.add({
          name,
          subjects,
          storage: StorageType.File,
          duplicate_window: nanos(DUPLICATE_WINDOW_MS),
          num_replicas: opts.streamReplicas ?? 1,
        });
      }
      ensured.set(name, [...subjects]);
    },

    async publish(msg) {
      if (isClosed) throw new Error("bus closed");
      const payload = encoder.encode(JSON.stringify(msg.data ?? null));
      if (await isCaptured(msg.subject)) {
        await js.publish(msg.subject, payload, { msgID: msg.id });
        return;
      }
      const h = headers();
      h.set(ID_HEADER, msg.id);
      nc.publish(msg.subject, payload, { headers: h });
    },

    subscribe(pattern, handler) {
      const sub = nc.subscribe(pattern, {
        callback: (err: Error | null, m: Msg) => {
          if (err) return;
          try {
            Promise.resolve(handler(decode(m.subject, m.headers, m.data))).catch(() => undefined);
          } catch {
            // Live fan-out is best effort: a bad message or a broken subscriber only loses that delivery.
          }
        },
      });
      return {
        unsubscribe: async () => {
          sub.unsubscribe();
          // Once the server has seen the UNSUB, nothing more is on the way.
          if (!nc.isClosed()) await nc.flush().catch(() => undefined);
        },
      };
    },

    async consume(o, handler): Promise<Subscription> {
      if (isClosed) throw new Error("bus closed");
      await upsertConsumer(o);
      const consumer = await js.consumers.get(o.stream, o.name);
      const binding: Binding = {
        stop: new AbortController(),
        messages: null,
        done: Promise.resolve(),
      };
      binding.done = runBinding(binding, consumer, o, handler);
      bindings.add(binding);
      return { unsubscribe: () => stopBinding(binding) };
    },

    async ping() {
      if (isClosed || nc.isClosed()) throw new Error("bus closed");
      // An account-info round trip proves both the connection and JetStream.
      await deadline(jsm.getAccountInfo(), PING_TIMEOUT_MS);
    },

    async close() {
      if (isClosed) return;
      isClosed = true;
      await Promise.all([...bindings].map(stopBinding));
      await nc.drain();
    },
  };
}

function decode(subject: string, hdrs: MsgHdrs | undefined, data: Uint8Array): BusMessage {
  const text = decoder.decode(data);
  return {
    subject,
    id: hdrs?.get(ID_HEADER) ?? "",
    data: text === "" ? null : (JSON.parse(text) as unknown),
  };
}

// A function, not a property read, so the check is not narrowed away across awaits.
function isStopped(binding: Binding): boolean {
  return binding.stop.signal.aborted;
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}
