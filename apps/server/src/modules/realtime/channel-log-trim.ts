import type { Deps } from "../../deps.ts";
import { trimChannelLog } from "./channel-log.repo.ts";

// The channel log keeps REALTIME_HISTORY_PER_CHANNEL messages per channel (trimmed as it grows) and nothing older
// than REALTIME_HISTORY_HOURS: this sweep forgets what aged out, so channels that went quiet do not keep their
// last thousand messages forever. Every realtime process runs it; concurrent sweeps delete disjoint leftovers.
const SWEEP_EVERY_MS = 10 * 60_000;

export function startChannelLogTrim(
  deps: Pick<Deps, "db" | "log" | "clock">,
  options: { historyHours: number },
): { stop(): Promise<void> } {
  let sweeping: Promise<void> = Promise.resolve();
  const sweep = (): void => {
    const before = new Date(deps.clock.now().getTime() - options.historyHours * 3_600_000);
    sweeping = trimChannelLog(deps.db, before).then(
      (deleted) => {
        if (deleted > 0) deps.log.info({ deleted }, "realtime: aged channel messages forgotten");
      },
      (error: unknown) => {
        deps.log.warn({ err: error }, "realtime: channel log sweep failed; next one in 10 minutes");
      },
    );
  };
  sweep();
  const timer = setInterval(sweep, SWEEP_EVERY_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}
