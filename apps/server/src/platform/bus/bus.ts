/**
 * The message bus every role talks through. Two drivers implement it: the in-process bus (embedded mode)
 * and NATS JetStream (cluster mode); `apps/server/test/bus.contract.ts` is the behaviour both must show.
 */

/** One message on the bus. `id` is stable across retries (the outbox id); `data` must be JSON-serialisable. */
export interface BusMessage {
  subject: string;
  id: string;
  data: unknown;
}

export type BusHandler = (msg: BusMessage) => Promise<void> | void;

export interface Subscription {
  /** Resolves once no new handler call will start; for a durable consumer, also once the running one ended. */
  unsubscribe(): Promise<void>;
}

export interface DurableConsumerOptions {
  /** Stream the consumer reads (created earlier with `ensureStream`). */
  stream: string;
  /** Durable name: consumers bound with the same (stream, name) share the work and the position. */
  name: string;
  /** Subject pattern within the stream this consumer receives. */
  filter: string;
  /** How long a delivery may stay unacknowledged before it is given again (NATS only). Default 30 s. */
  ackWaitMs?: number;
  /** Attempts per message before it is given up on. Default: unlimited. */
  maxDeliver?: number;
}

export interface Bus {
  /** Creates the stream capturing `subjects`, or updates its subjects; safe to call on every start. */
  ensureStream(name: string, subjects: string[]): Promise<void>;
  /** Stores the message when a stream captures its subject and fans it out to live subscribers. */
  publish(msg: BusMessage): Promise<void>;
  /** Ephemeral fan-out: live messages only, no history, no acknowledgement. */
  subscribe(pattern: string, handler: BusHandler): Subscription;
  /** Durable, at-least-once, in order: the handler resolving acknowledges, throwing asks for a retry. */
  consume(opts: DurableConsumerOptions, handler: BusHandler): Promise<Subscription>;
  /** Throws when the bus is unreachable (used by /readyz). */
  ping(): Promise<void>;
  /** Lets in-flight handlers finish, then closes; later publishes reject. */
  close(): Promise<void>;
}

/**
 * Whether `subject` matches `pattern` under NATS rules: tokens split on '.', '*' is exactly one token,
 * '>' (last token only) is one or more remaining tokens.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const want = pattern.split(".");
  const have = subject.split(".");
  if (have.some((token) => token === "")) return false;
  for (let i = 0; i < want.length; i++) {
    const token = want[i];
    if (token === ">") return i === want.length - 1 && have.length > i;
    const actual = have[i];
    if (actual === undefined || token === "") return false;
    if (token !== "*" && token !== actual) return false;
  }
  return want.length === have.length;
}
