import type { Migration } from "kysely";
import * as foundation from "./20261122T0500-foundation.ts";
import * as rateLimitCounters from "./20261122T0511-rate-limit-counters.ts";
import * as events from "./20261122T0600-events.ts";
import * as calendarFeeds from "./20261122T0630-calendar-feeds.ts";
import * as participations from "./20261122T0900-participations.ts";
import * as admitJoins from "./20261122T1000-admit-joins.ts";
import * as admitJoinsCompact from "./20261203T1200-admit-joins-compact.ts";
import * as replayHeadersAndRetention from "./20261205T2300-replay-headers-and-retention.ts";
import * as usersChangedNotify from "./20261205T2300-users-changed-notify.ts";
import * as admitJoinsV2 from "./20261206T0100-admit-joins-v2.ts";
import * as realtimeChannels from "./20261206T0200-realtime-channels.ts";
import * as admissions from "./20261206T0300-admissions.ts";
import * as interactions from "./20261206T0300-interactions.ts";
import * as userNames from "./20261206T0310-user-names.ts";
import * as photos from "./20261206T0400-photos.ts";
import * as notifications from "./20261206T0410-notifications.ts";
import * as mail from "./20261206T0500-mail.ts";
import * as realtimeMessagesAge from "./20261206T0700-realtime-messages-age.ts";
import * as interactionRollups from "./20261207T0200-interaction-rollups.ts";
import * as interactionFunnelRollups from "./20261208T0100-interaction-funnel-rollups.ts";
import * as contractAdmission from "./20261208T0500-contract-admission.ts";
import * as interactionEventFunnelAndMinuteRollups from "./20261209T0300-interaction-event-funnel-and-minute-rollups.ts";
import * as outboxStatistics from "./20261209T0500-outbox-statistics.ts";

/** Every migration, by timestamped name. Forward-only: never edit one that has been applied. */
export const migrations: Record<string, Migration> = {
  "20261122T0500-foundation": foundation,
  "20261122T0511-rate-limit-counters": rateLimitCounters,
  "20261122T0600-events": events,
  "20261122T0630-calendar-feeds": calendarFeeds,
  "20261122T0900-participations": participations,
  "20261122T1000-admit-joins": admitJoins,
  "20261203T1200-admit-joins-compact": admitJoinsCompact,
  "20261205T2300-replay-headers-and-retention": replayHeadersAndRetention,
  "20261205T2300-users-changed-notify": usersChangedNotify,
  "20261206T0100-admit-joins-v2": admitJoinsV2,
  "20261206T0200-realtime-channels": realtimeChannels,
  "20261206T0300-admissions": admissions,
  "20261206T0300-interactions": interactions,
  "20261206T0310-user-names": userNames,
  "20261206T0400-photos": photos,
  "20261206T0410-notifications": notifications,
  "20261206T0500-mail": mail,
  "20261206T0700-realtime-messages-age": realtimeMessagesAge,
  "20261207T0200-interaction-rollups": interactionRollups,
  "20261208T0100-interaction-funnel-rollups": interactionFunnelRollups,
  "20261208T0500-contract-admission": contractAdmission,
  "20261209T0300-interaction-event-funnel-and-minute-rollups": interactionEventFunnelAndMinuteRollups,
  "20261209T0500-outbox-statistics": outboxStatistics,
};
