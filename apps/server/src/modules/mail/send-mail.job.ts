import type { NotificationKind } from "@turnout/contracts";
import { PermanentJobError } from "../../platform/jobs/job-queue.ts";
import type { MailContext } from "./mail-context.ts";
import { mailParamsSchema, renderMail } from "./mail-templates.ts";
import { createMailTransport, type MailTransport } from "./mail-transport.ts";
import * as repo from "./mail.repo.ts";
import { PREFERENCE_OF_KIND, signUnsubscribeToken } from "./unsubscribe-tokens.ts";

/*
 * mail.send: sends one queued mail. The row is locked for the whole send and marked `sent` in the same
 * transaction, so a second run of the job (a retry, a duplicate) finds it sent and does nothing; a crash
 * before the commit leaves it `pending` and the retry sends it again, with the same Message-ID (ADR 0022).
 * A refused or unreachable relay throws, and the job is retried with backoff; a permanent refusal (5xx)
 * makes the job dead at once, listed for an admin.
 */

/** Sends mail `mailId` if it is still pending; what became of it. */
export async function sendQueuedMail(
  ctx: MailContext,
  transport: MailTransport,
  mailId: string,
): Promise<"sent" | "skipped" | "not pending"> {
  return ctx.db.transaction().execute(async (trx) => {
    const mail = await repo.lockPendingMail(trx, mailId);
    if (mail === undefined) return "not pending";
    const preferences = (await repo.findPreferences(trx, [mail.user_id])).get(mail.user_id);
    const recipient = await repo.findRecipient(trx, mail.user_id);
    const preference = PREFERENCE_OF_KIND[mail.kind];
    // Unsubscribed since the mail was queued: it never leaves.
    if (recipient === undefined || preferences?.[preference] === false) {
      await repo.markMail(trx, mail.id, { status: "skipped", to: null, subject: null, at: ctx.clock.now() });
      return "skipped";
    }
    const parsed = mailParamsSchema.safeParse(mail.params);
    // Stored by an older or broken release: no retry will make it parse, so the job is dead at once.
    if (!parsed.success) throw new PermanentJobError(`mail ${mail.id}: its stored params do not parse`);
    const params = parsed.data;
    const unsubscribeUrl = `${ctx.publicOrigin}/api/mail/unsubscribe?token=${signUnsubscribeToken(
      ctx.signingSecret,
      mail.user_id,
      preference,
    )}`;
    const rendered = renderMail(mail.kind, mail.locale, params, {
      event: params.eventId === null ? null : `${ctx.publicOrigin}/events/${params.eventId}`,
      unsubscribe: unsubscribeUrl,
    });
    try {
      await transport.send({
        id: mail.id,
        messageId: `<${mail.id}@${new URL(ctx.publicOrigin).hostname}>`,
        date: mail.created_at,
        from: ctx.settings.from,
        to: { name: recipient.name, address: recipient.email },
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        headers: {
          "Content-Language": mail.locale,
          "List-Unsubscribe": `<${unsubscribeUrl}>`,
          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
          "X-Turnout-Kind": mail.kind,
        },
      });
    } catch (error) {
      throw isPermanentRefusal(error) ? new PermanentJobError(describe(error, mail.kind)) : error;
    }
    await repo.markMail(trx, mail.id, {
      status: "sent",
      to: recipient.email,
      subject: rendered.subject,
      at: ctx.clock.now(),
    });
    return "sent";
  });
}

// SMTP 5xx: the relay will never take this mail as it is (unknown mailbox, policy); retrying cannot help.
function isPermanentRefusal(error: unknown): boolean {
  if (typeof error !== "object" || error === null || !("responseCode" in error)) return false;
  return typeof error.responseCode === "number" && error.responseCode >= 500;
}

function describe(error: unknown, kind: NotificationKind): string {
  return `${kind} mail refused: ${error instanceof Error ? error.message : String(error)}`;
}

/** Worker role: runs mail.send here, `concurrency` at a time; stop() closes the relay connection. */
export function startMailJobs(ctx: MailContext, options: { concurrency: number }): { stop(): void } {
  const transport = createMailTransport(ctx.settings);
  ctx.jobs.work(
    "mail.send",
    async ({ mailId }) => {
      const outcome = await sendQueuedMail(ctx, transport, mailId);
      ctx.log.debug({ mailId, outcome, mode: transport.mode }, "mail job done");
    },
    { concurrency: options.concurrency },
  );
  return {
    stop: () => {
      transport.close();
    },
  };
}
