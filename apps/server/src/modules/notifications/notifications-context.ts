import type { Deps } from "../../deps.ts";

/** What the notifications module works with: the door's options, built by the role from its Deps. */
export type NotificationsContext = Pick<Deps, "db" | "clock" | "bus" | "log" | "jobs">;
