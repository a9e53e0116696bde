import { participationChangedDataSchema, type ParticipationChangedData } from "@turnout/contracts";
import type { Deps } from "../../deps.ts";
import { listWaitlistPositions } from "../participation/index.ts";
import { BoundedMap } from "../../platform/bounded-map.ts";
import { appendDerivedMessages, type ChannelMessage } from "./channel-log.repo.ts";

/*
 * Live waitlist positions (ADR 0014). A join or a leave writes one message for the person it concerns, never one
 * for each person behind them. The sequencer notes which events' waitlists moved; at most once per interval it
 * reads the event's line once and appends a `participation.changed.v1` (cause "moved") to the channel of each
 * waitlisted person whose position differs from the last one their channel carried.
 */

const PARTICIPATION_CHANGED = "participation.changed.v1";
// Events whose last pushed positions are remembered; past this, the oldest are forgotten (and re-pushed once).
const REMEMBERED_EVENTS = 1_000;
const LINE_MOVERS = new Set<ParticipationChangedData["cause"]>(["cancelled", "removed", "promoted"]);

export interface WaitlistMoves {
  /** Looks at a message the sequencer just appended; may mark its event's line as moved. */
  note(type: string, data: unknown): void;
  /** Appends the moved positions of every marked event; returns what was appended, to publish. */
  flush(): Promise<ChannelMessage[]>;
  hasWork(): boolean;
}

export function createWaitlistMoves(
  deps: Pick<Deps, "db">,
  options: { historyPerChannel: number },
): WaitlistMoves {
  const moved = new Set<string>();
  const pushed = new BoundedMap<string, Map<string, number>>(REMEMBERED_EVENTS);

  function remember(eventId: string): Map<string, number> {
    let positions = pushed.get(eventId);
    if (positions === undefined) {
      positions = new Map();
      pushed.set(eventId, positions);
    }
    return positions;
  }

  async function flushEvent(eventId: string): Promise<ChannelMessage[]> {
    const line = await listWaitlistPositions(deps.db, eventId);
    const previous = remember(eventId);
    const current = new Map(line.map(({ userId, position }) => [userId, position]));
    pushed.set(eventId, current);
    const entries = line
      .filter(({ userId, position }) => previous.get(userId) !== position)
      .map(({ userId, position }) => {
        const data: ParticipationChangedData = {
          eventId,
          userId,
          status: "waitlisted",
          waitlistPosition: position,
          cause: "moved",
        };
        return { channel: `user:${userId}`, data };
      });
    if (entries.length === 0) return [];
    return deps.db
      .transaction()
      .execute((trx) =>
        appendDerivedMessages(
          trx,
          entries,
          { type: PARTICIPATION_CHANGED, occurredAt: new Date().toISOString() },
          options.historyPerChannel,
        ),
      );
  }

  return {
    note(type, data) {
      if (type !== PARTICIPATION_CHANGED) return;
      const parsed = participationChangedDataSchema.safeParse(data);
      if (!parsed.success) return;
      const change = parsed.data;
      if (change.status === "waitlisted") {
        // The person's own message told them their position: nothing to push until the line moves.
        if (change.waitlistPosition !== null)
          remember(change.eventId).set(change.userId, change.waitlistPosition);
        return;
      }
      remember(change.eventId).delete(change.userId);
      // Someone left the line or a seat (which promotes the head): everyone behind moves up.
      if (LINE_MOVERS.has(change.cause)) moved.add(change.eventId);
    },
    async flush() {
      const events = [...moved];
      moved.clear();
      const appended: ChannelMessage[] = [];
      for (const eventId of events) {
        try {
          appended.push(...(await flushEvent(eventId)));
        } catch (error) {
          moved.add(eventId);
          throw error;
        }
      }
      return appended;
    },
    hasWork() {
      return moved.size > 0;
    },
  };
}
