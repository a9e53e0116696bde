import { type Participation, participationChangedDataSchema } from "@turnout/contracts";
import { useQueryClient } from "@tanstack/react-query";
import { refreshPagedLists } from "../api/paged-list.ts";
import { keys } from "../api/queries.ts";
import { useChannel } from "./realtime.tsx";

/**
 * Watches the signed-in person's own channel: a waitlist position that moves, a promotion ("You're in!"), a
 * removal. Each change lands in the participation cache the event page reads, so it updates without reload.
 */
export function UserChannel({ userId }: { userId: string }) {
  const client = useQueryClient();
  useChannel(
    `user:${userId}`,
    (event) => {
      if (event.type !== "participation.changed.v1") return;
      const parsed = participationChangedDataSchema.safeParse(event.data);
      if (!parsed.success) return;
      const { eventId, status, waitlistPosition } = parsed.data;
      const key = keys.participation(eventId, userId);
      const old = client.getQueryData<Participation | null>(key);
      if (old === undefined || old === null) void client.invalidateQueries({ queryKey: key });
      else client.setQueryData<Participation>(key, { ...old, status, waitlistPosition });
      void refreshPagedLists(client, { queryKey: keys.myParticipations });
    },
    () => {
      void client.invalidateQueries({ queryKey: ["event"] });
    },
  );
  return null;
}
