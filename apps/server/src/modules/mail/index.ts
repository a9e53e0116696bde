// The mail module's only door: other modules and roles import from here, never its files.
// E-mail: preferences and language, queueing a mail in the caller's transaction, the send job (SMTP or .eml
// files), unsubscribe links, and the admin's list.
export type { MailContext as MailOptions } from "./mail-context.ts";
export { mailRoutes } from "./mail.routes.ts";
export { queueMails, recordSignUpLanguage, type MailToQueue } from "./mail.service.ts";
export type { MailParams } from "./mail-templates.ts";
export { startMailJobs } from "./send-mail.job.ts";
