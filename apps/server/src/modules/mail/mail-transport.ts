import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import nodemailer from "nodemailer";
import MailComposer from "nodemailer/lib/mail-composer";
import type { SendMailOptions } from "nodemailer/lib/mailer";
import type { MailSettings } from "../../config.ts";

/*
 * Where mails go: an SMTP relay (SMTP_URL, cluster mode) through nodemailer, or, with no relay (embedded
 * mode), .eml files under DATA_DIR/mail composed by nodemailer's own MailComposer, one per mail id, so sending
 * the same mail again rewrites its file instead of adding a second one.
 */

export interface OutgoingMail extends SendMailOptions {
  /** The mail's id: names its .eml file and makes its Message-ID. */
  id: string;
}

export interface MailTransport {
  readonly mode: "smtp" | "files";
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

// A relay that does not answer must not hold the send job (and its row lock) for nodemailer's 10 minutes.
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

export function createMailTransport(settings: MailSettings): MailTransport {
  const { smtpUrl } = settings;
  if (smtpUrl === undefined) return createFileTransport(settings.dir);
  const transporter = nodemailer.createTransport({ url: smtpUrl, ...SMTP_TIMEOUTS });
  return {
    mode: "smtp",
    async send(mail) {
      await transporter.sendMail(mail);
    },
    close: () => {
      transporter.close();
    },
  };
}

/** The .eml file of a mail in `dir`. */
export function emlPathOf(dir: string, id: string): string {
  return join(dir, `${id}.eml`);
}

function createFileTransport(dir: string): MailTransport {
  return {
    mode: "files",
    async send(mail) {
      const bytes = await new MailComposer(mail).compile().build();
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // Written aside and renamed, so a reader (or a crash) never sees half a mail.
      const path = emlPathOf(dir, mail.id);
      await writeFile(`${path}.partial`, bytes, { mode: 0o600 });
      await rename(`${path}.partial`, path);
    },
    close: () => undefined,
  };
}
