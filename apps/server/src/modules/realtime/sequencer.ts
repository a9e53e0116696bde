import { domainEventSchema } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import type { Bus, Subscription } from "../../platform/bus/bus.ts";
import { applyOnce } from "../../platform/outbox/inbox.ts";
import { DEFAULT_DOMAIN_STREAM, type DomainStream } from "../../platform/outbox/outbox.ts";
import { appendChannelMessages, type ChannelMessage, findMessagesOfOutboxRow } from "./channel-log.repo.ts";
import { routeToChannels } from "./channel-routing.ts";
import { createWaitlistMoves } from "./waitlist-moves.ts";

/*
 * The sequencer (ADR 0013): one durable, in-order consumer of every domain message. It gives each channel
 * message its position on the channel in the same transaction that records the message as handled, then
 * publishes it live on the channel's own subject. Every gateway node reads positions from here, so they agree.
 */

const SEQUENCER_NAME = "realtime-sequencer";
// Moved waitlist positions are pushed this long after the first move at the latest (ADR 0014: within a second).
const WAITLIST_FLUSH_MS = 250;

export interface SequencerOptions {
  /** Where domain messages arrive (tests use their own stream). */
  stream?: DomainStream;
  /** Prefix of the live channel subjects gateways subscribe to. */
  liveSubjectPrefix: string;
  historyPerChannel: number;
}

/** The live subject of a channel: `<prefix>.events`, `<prefix>.event.<id>`, `<prefix>.user.<id>`... */
export function liveSubject(prefix: string, channel: string): string {
  return `${prefix}.${channel.replace(":", ".")}`;
}

/** Binds the sequencer; every process of the realtime role binds it, and they share the work in order. */
export async function startChannelSequencer(
  deps: Pick<Deps, "db" | "bus" | "log">,
  options: SequencerOptions,
): Promise<Subscription> {
  const stream = options.stream ?? DEFAULT_DOMAIN_STREAM;
  await deps.bus.ensureStream(stream.name, [`${stream.subjectPrefix}.>`]);
  const moves = createWaitlistMoves(deps, options);
  // The bus hands one message at a time; waitlist flushes take their turn in the same line.
  let turn: Promise<unknown> = Promise.resolve();
  const serially = <T>(task: () => Promise<T>): Promise<T> => {
    const run = turn.then(task);
    turn = run.catch(() => undefined);
    return run;
  };
  let flushTimer: NodeJS.Timeout | null = null;
  const scheduleFlush = (): void => {
    flushTimer ??= setTimeout(() => {
      flushTimer = null;
      serially(async () => publishLive(deps.bus, options.liveSubjectPrefix, await moves.flush())).catch(
        (error: unknown) => {
          deps.log.error({ err: error }, "realtime: waitlist positions not pushed; retrying");
          scheduleFlush();
        },
      );
    }, WAITLIST_FLUSH_MS);
  };

  const subscription = await deps.bus.consume(
    { stream: stream.name, name: SEQUENCER_NAME, filter: `${stream.subjectPrefix}.>` },
    (msg) =>
      serially(async () => {
        const parsed = domainEventSchema.safeParse(msg.data);
        if (!parsed.success) {
          deps.log.error(
            { messageId: msg.id, subject: msg.subject },
            "realtime: not a domain message; dropped",
          );
          return;
        }
        const event = parsed.data;
        const channels = routeToChannels(event.type, event.data);
        if (channels.length === 0) return;
        const outboxId = Number(event.id);
        let appended: ChannelMessage[] = [];
        const isFirstTime = await applyOnce(deps.db, SEQUENCER_NAME, event.id, async (trx) => {
          appended = await appendChannelMessages(
            trx,
            channels,
            { outboxId, type: event.type, data: event.data, occurredAt: event.occurredAt },
            options.historyPerChannel,
          );
        });
        // A redelivery may follow a crash between commit and publish: publish the same positions again
        // (gateways drop positions they already have).
        if (!isFirstTime) appended = await findMessagesOfOutboxRow(deps.db, outboxId);
        moves.note(event.type, event.data);
        if (moves.hasWork()) scheduleFlush();
        await publishLive(deps.bus, options.liveSubjectPrefix, appended);
      }),
  );
  return {
    async unsubscribe() {
      await subscription.unsubscribe();
      if (flushTimer !== null) clearTimeout(flushTimer);
      await turn;
    },
  };
}

/** Publishes numbered channel messages on their channels' live subjects (for the gateways that watch them). */
export async function publishLive(
  bus: Bus,
  prefix: string,
  messages: readonly ChannelMessage[],
): Promise<void> {
  await Promise.all(
    messages.map((message) =>
      bus.publish({
        subject: liveSubject(prefix, message.channel),
        id: `${message.channel}#${message.seq}`,
        data: message,
      }),
    ),
  );
}
