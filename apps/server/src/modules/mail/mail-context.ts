import type { MailSettings } from "../../config.ts";
import type { Deps } from "../../deps.ts";

/** What the mail module works with: the door's options, built by the role from its Deps. */
export interface MailContext extends Pick<Deps, "db" | "clock" | "jobs" | "log"> {
  settings: MailSettings;
  /** Signs the unsubscribe links (URL_SIGNING_SECRET, under a label of its own). */
  signingSecret: string;
  /** The origin links in mails point at: PUBLIC_URL, else http://localhost:PORT. */
  publicOrigin: string;
}
