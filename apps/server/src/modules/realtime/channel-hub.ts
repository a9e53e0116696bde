import { z } from "zod";
import type { Deps } from "../../deps.ts";
import type { Subscription } from "../../platform/bus/bus.ts";
import { type ChannelMessage, findChannelSeq, listChannelMessages } from "./channel-log.repo.ts";
import { isCoalescable } from "./channel-routing.ts";
import { type FrameKind, MessageBatch, messageFrame } from "./message-batch.ts";
import type { RealtimeMetrics } from "./realtime-metrics.ts";
import { liveSubject } from "./sequencer.ts";

/*
 * The channels this gateway process watches (ADR 0013). A channel is subscribed on the bus while at least one
 * client here watches it, and only then. Per channel, one task runs at a time, so every watcher sees one order:
 * positions arrive from the bus, holes (a live message lost or overtaken) are filled from the channel log, and
 * a position already handled is dropped. Snapshot messages (stats) go out at most once per interval, the latest
 * one always last. What one turn accepted goes out as one batch (message-batch.ts), written to the watchers a
 * slice at a time so that the process's other work (the next message's way in, requests) runs in between.
 */

// Recent messages kept per watched channel, so a reconnect storm resumes from memory, not the database.
const RECENT_MESSAGES = 256;
// Interest in a NATS subject takes effect a moment after subscribing: look once more for what slipped past.
const SUBSCRIBE_RECHECK_MS = 250;
// Watchers written to before the hub lets other work run (about 10 ms of socket writes).
const WATCHERS_PER_SLICE = 1_000;

export type { FrameKind } from "./message-batch.ts";

/** One client's interest in one channel. */
export interface Watcher {
  /** The last position delivered on this channel (messages at or below it are not sent again). */
  cursor: number;
  /** A single frame (subscribed, reset, a replayed message); the hub has set `cursor` before. */
  deliver(frame: string, kind: FrameKind): void;
  /**
   * The batch's messages after `cursor`, in order; the watcher moves `cursor` to `batch.lastSeq` and returns how
   * many messages it sent. Called only when the batch ends beyond `cursor`.
   */
  deliverBatch(batch: MessageBatch): number;
}

export interface ChannelHub {
  /**
   * Starts delivering `channel` to the watcher: with `since`, first what it missed (or a reset when that is
   * no longer kept), then `subscribed` with the current position, then live messages. Resolves after `subscribed`.
   */
  watch(channel: string, watcher: Watcher, since?: number): Promise<void>;
  unwatch(channel: string, watcher: Watcher): void;
  /** The channels at least one client here watches (each is subscribed on the bus, the others are not). */
  watchedChannels(): Iterable<string>;
  close(): Promise<void>;
}

export interface ChannelHubOptions {
  liveSubjectPrefix: string;
  /** At most one snapshot (stats.changed) per channel and interval. */
  snapshotIntervalMs: number;
  metrics: RealtimeMetrics;
}

interface ChannelState {
  name: string;
  joining: Set<Watcher>;
  watchers: Set<Watcher>;
  subscription: Subscription;
  tasks: Promise<void>;
  isInitialized: boolean;
  /** Highest position received (contiguous). */
  lastSeq: number;
  /** Highest position sent to watchers; below lastSeq only while a snapshot waits for its interval. */
  dispatchedSeq: number;
  /** Live messages from the bus not yet taken in, and whether a turn to take them in is queued. */
  inbox: ChannelMessage[];
  isInboxQueued: boolean;
  /** Accepted in this turn, sent at its end. */
  outgoing: MessageBatch;
  recent: ChannelMessage[];
  pendingSnapshot: ChannelMessage | null;
  snapshotTimer: NodeJS.Timeout | null;
  lastSnapshotAt: number;
}

const channelMessageSchema = z.object({
  channel: z.string(),
  seq: z.number().int().min(1),
  type: z.string(),
  data: z.unknown(),
  occurredAt: z.string(),
});

export function createChannelHub(
  deps: Pick<Deps, "db" | "bus" | "log">,
  options: ChannelHubOptions,
): ChannelHub {
  const { db, bus, log } = deps;
  const { metrics } = options;
  const channels = new Map<string, ChannelState>();

  function enqueue(state: ChannelState, task: () => Promise<void> | void): Promise<void> {
    const run = state.tasks.then(task);
    state.tasks = run.catch((error: unknown) => {
      log.error({ err: error, channel: state.name }, "realtime: channel task failed");
    });
    return run;
  }

  function open(name: string): ChannelState {
    const state: ChannelState = {
      name,
      joining: new Set(),
      watchers: new Set(),
      subscription: { unsubscribe: () => Promise.resolve() },
      tasks: Promise.resolve(),
      isInitialized: false,
      lastSeq: 0,
      dispatchedSeq: 0,
      inbox: [],
      isInboxQueued: false,
      outgoing: new MessageBatch(),
      recent: [],
      pendingSnapshot: null,
      snapshotTimer: null,
      lastSnapshotAt: 0,
    };
    channels.set(name, state);
    state.subscription = bus.subscribe(liveSubject(options.liveSubjectPrefix, name), (msg) => {
      const parsed = channelMessageSchema.safeParse(msg.data);
      if (!parsed.success || parsed.data.channel !== name) return;
      const message = parsed.data;
      metrics.busLag.observe(Math.max(0, Date.now() - Date.parse(message.occurredAt)) / 1000);
      state.inbox.push(message);
      if (state.isInboxQueued) return;
      // Messages that arrive while the channel is busy (a fan-out in flight) are taken in together.
      state.isInboxQueued = true;
      void enqueue(state, () => takeInbox(state)).catch(() => undefined);
    });
    setTimeout(() => {
      if (channels.get(name) === state) void enqueue(state, () => catchUp(state)).catch(() => undefined);
    }, SUBSCRIBE_RECHECK_MS).unref();
    return state;
  }

  async function initialize(state: ChannelState): Promise<void> {
    if (state.isInitialized) return;
    const seq = await findChannelSeq(db, state.name);
    state.lastSeq = seq;
    state.dispatchedSeq = seq;
    state.isInitialized = true;
  }

  async function takeInbox(state: ChannelState): Promise<void> {
    state.isInboxQueued = false;
    const messages = state.inbox;
    state.inbox = [];
    try {
      for (const message of messages) await receiveLive(state, message);
    } finally {
      // What was accepted before a failure (a hole the log could not fill now) still goes out.
      await sendOutgoing(state);
    }
  }

  async function receiveLive(state: ChannelState, message: ChannelMessage): Promise<void> {
    if (!state.isInitialized) {
      await initialize(state);
      if (message.seq <= state.lastSeq) return;
    }
    if (message.seq <= state.lastSeq) return;
    if (message.seq > state.lastSeq + 1) await fill(state, message.seq - 1);
    if (message.seq === state.lastSeq + 1) accept(state, message);
  }

  async function catchUp(state: ChannelState): Promise<void> {
    await initialize(state);
    const seq = await findChannelSeq(db, state.name);
    if (seq > state.lastSeq) await fill(state, seq);
    await sendOutgoing(state);
  }

  // Takes positions lastSeq+1..upTo from the channel log. If some are no longer kept, every watcher gets a reset.
  async function fill(state: ChannelState, upTo: number): Promise<void> {
    const missing = await listChannelMessages(db, state.name, state.lastSeq, upTo);
    if (missing[0]?.seq !== state.lastSeq + 1 || missing.length !== upTo - state.lastSeq) {
      await sendOutgoing(state);
      state.lastSeq = upTo;
      state.dispatchedSeq = upTo;
      state.recent = [];
      state.pendingSnapshot = null;
      resetAll(state);
      return;
    }
    for (const message of missing) accept(state, message);
  }

  function accept(state: ChannelState, message: ChannelMessage): void {
    state.lastSeq = message.seq;
    state.recent.push(message);
    if (state.recent.length > 2 * RECENT_MESSAGES)
      state.recent.splice(0, state.recent.length - RECENT_MESSAGES);
    if (!isCoalescable(message.type)) {
      flushSnapshot(state);
      dispatch(state, message);
      return;
    }
    const sinceLast = Date.now() - state.lastSnapshotAt;
    if (state.pendingSnapshot === null && sinceLast >= options.snapshotIntervalMs) {
      dispatch(state, message);
      return;
    }
    state.pendingSnapshot = message;
    state.snapshotTimer ??= setTimeout(
      () => {
        state.snapshotTimer = null;
        void enqueue(state, () => {
          flushSnapshot(state);
          return sendOutgoing(state);
        }).catch(() => undefined);
      },
      Math.max(0, options.snapshotIntervalMs - sinceLast),
    );
  }

  function flushSnapshot(state: ChannelState): void {
    const pending = state.pendingSnapshot;
    if (pending === null) return;
    state.pendingSnapshot = null;
    dispatch(state, pending);
  }

  function dispatch(state: ChannelState, message: ChannelMessage): void {
    if (isCoalescable(message.type)) state.lastSnapshotAt = Date.now();
    state.dispatchedSeq = message.seq;
    state.outgoing.add(message);
  }

  // Every turn ends here: what it accepted goes to every watcher, serialised and framed once for all of them.
  async function sendOutgoing(state: ChannelState): Promise<void> {
    const batch = state.outgoing;
    if (batch.size === 0) return;
    state.outgoing = new MessageBatch();
    let sent = 0;
    let inSlice = 0;
    // Watchers that leave meanwhile are skipped by the Set's iterator; new ones join only in a later turn.
    for (const watcher of state.watchers) {
      if (batch.lastSeq <= watcher.cursor) continue;
      sent += watcher.deliverBatch(batch);
      if (++inSlice < WATCHERS_PER_SLICE) continue;
      inSlice = 0;
      metrics.messagesOut.inc(sent);
      sent = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    metrics.messagesOut.inc(sent);
  }

  function resetAll(state: ChannelState): void {
    for (const watcher of state.watchers) {
      watcher.cursor = state.dispatchedSeq;
      watcher.deliver(resetFrame(state.name), { type: "reset" });
      watcher.deliver(subscribedFrame(state.name, state.dispatchedSeq), { type: "subscribed" });
    }
  }

  // What a watcher that saw `since` missed, up to what was dispatched; null when part of it is no longer kept.
  async function missedSince(state: ChannelState, since: number): Promise<ChannelMessage[] | null> {
    const upTo = state.dispatchedSeq;
    const first = state.recent[0];
    const missed =
      first !== undefined && first.seq <= since + 1
        ? state.recent.filter((message) => message.seq > since && message.seq <= upTo)
        : await listChannelMessages(db, state.name, since, upTo);
    const isComplete = missed.length === upTo - since && (missed[0]?.seq ?? since + 1) === since + 1;
    return isComplete ? missed : null;
  }

  async function join(state: ChannelState, watcher: Watcher, since: number | undefined): Promise<void> {
    if (!state.joining.has(watcher)) return;
    await initialize(state);
    // A client may have seen a position this process has not received yet (another node was quicker).
    if (since !== undefined && since > state.lastSeq) await catchUp(state);
    if (!state.joining.has(watcher)) return;
    let replay: ChannelMessage[] = [];
    if (since !== undefined && since > state.lastSeq) {
      watcher.deliver(resetFrame(state.name), { type: "reset" });
    } else if (since !== undefined && since < state.dispatchedSeq) {
      const missed = await missedSince(state, since);
      if (missed === null) watcher.deliver(resetFrame(state.name), { type: "reset" });
      else replay = withoutSupersededSnapshots(missed);
    }
    if (!state.joining.has(watcher)) return;
    watcher.cursor = since ?? 0;
    for (const message of replay) {
      watcher.cursor = message.seq;
      watcher.deliver(messageFrame(message), { type: "message", eventType: message.type });
    }
    metrics.messagesOut.inc(replay.length);
    const isAhead = since !== undefined && since > state.dispatchedSeq && since <= state.lastSeq;
    watcher.cursor = isAhead ? since : state.dispatchedSeq;
    watcher.deliver(subscribedFrame(state.name, watcher.cursor), { type: "subscribed" });
    state.joining.delete(watcher);
    state.watchers.add(watcher);
  }

  function closeState(state: ChannelState): void {
    channels.delete(state.name);
    if (state.snapshotTimer !== null) clearTimeout(state.snapshotTimer);
    void state.subscription.unsubscribe().catch(() => undefined);
  }

  return {
    watch(channel, watcher, since) {
      const state = channels.get(channel) ?? open(channel);
      state.joining.add(watcher);
      return enqueue(state, () => join(state, watcher, since));
    },
    unwatch(channel, watcher) {
      const state = channels.get(channel);
      if (state === undefined) return;
      state.joining.delete(watcher);
      state.watchers.delete(watcher);
      if (state.joining.size === 0 && state.watchers.size === 0) closeState(state);
    },
    watchedChannels() {
      return channels.keys();
    },
    async close() {
      const states = [...channels.values()];
      for (const state of states) closeState(state);
      await Promise.all(states.map((state) => state.tasks));
    },
  };
}

// Of the replayed snapshots only the last of each type matters: the others were already replaced.
function withoutSupersededSnapshots(messages: readonly ChannelMessage[]): ChannelMessage[] {
  const lastIndexOfType = new Map<string, number>();
  messages.forEach((message, index) => {
    if (isCoalescable(message.type)) lastIndexOfType.set(message.type, index);
  });
  return messages.filter(
    (message, index) => !isCoalescable(message.type) || lastIndexOfType.get(message.type) === index,
  );
}

function subscribedFrame(channel: string, seq: number): string {
  return JSON.stringify({ type: "subscribed", channel, seq });
}

function resetFrame(channel: string): string {
  return JSON.stringify({ type: "reset", channel });
}
