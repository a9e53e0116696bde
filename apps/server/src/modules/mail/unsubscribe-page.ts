import type { MailLocale, MailPreferenceName } from "@turnout/contracts";
import { escapeHtml } from "./mail-templates.ts";

// The unsubscribe page: a GET shows what the link turns off and a button (mail scanners follow links, so a
// GET changes nothing); the button, like a mail client's one-click request (RFC 8058), POSTs to the same URL.

const WHAT: Record<MailLocale, Record<MailPreferenceName, string>> = {
  en: {
    emailOnJoin: "mails confirming your place at an event",
    emailOnPromotion: "mails when you move up from a waitlist",
    emailOnEventChange: "mails when an event you take part in changes or is cancelled",
    emailOnAnnouncement: "organizers' announcements by mail",
    emailReminders: "reminders the day before an event",
  },
  de: {
    emailOnJoin: "E-Mails, die deinen Platz bei einer Veranstaltung bestätigen",
    emailOnPromotion: "E-Mails, wenn du von einer Warteliste nachrückst",
    emailOnEventChange: "E-Mails, wenn sich eine deiner Veranstaltungen ändert oder abgesagt wird",
    emailOnAnnouncement: "Mitteilungen der Veranstalter per E-Mail",
    emailReminders: "Erinnerungen am Tag vor einer Veranstaltung",
  },
};

const TEXT = {
  en: {
    title: "Unsubscribe",
    ask: "Stop sending you",
    button: "Unsubscribe",
    done: "Done. You will no longer get",
    later: "You can turn them on again in your settings.",
  },
  de: {
    title: "Abbestellen",
    ask: "Keine weiteren",
    button: "Abbestellen",
    done: "Erledigt. Du bekommst keine weiteren",
    later: "In deinen Einstellungen kannst du sie wieder einschalten.",
  },
} as const;

function page(locale: MailLocale, body: string): string {
  return [
    "<!doctype html>",
    `<html lang="${locale}"><head><meta charset="utf-8">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Turnout: ${TEXT[locale].title}</title></head><body><main>`,
    body,
    "</main></body></html>",
    "",
  ].join("\n");
}

/** The page an unsubscribe link opens: what it turns off, and the button that does it. */
export function confirmPage(locale: MailLocale, preference: MailPreferenceName, actionUrl: string): string {
  const text = TEXT[locale];
  return page(
    locale,
    [
      `<h1>${text.title}</h1>`,
      `<p>${text.ask} ${escapeHtml(WHAT[locale][preference])}?</p>`,
      `<form method="post" action="${escapeHtml(actionUrl)}">`,
      '<input type="hidden" name="List-Unsubscribe" value="One-Click">',
      `<button type="submit">${text.button}</button>`,
      "</form>",
    ].join("\n"),
  );
}

/** The page after unsubscribing. */
export function donePage(locale: MailLocale, preference: MailPreferenceName): string {
  const text = TEXT[locale];
  return page(
    locale,
    [
      `<h1>${text.title}</h1>`,
      `<p>${text.done} ${escapeHtml(WHAT[locale][preference])}.</p>`,
      `<p>${text.later}</p>`,
    ].join("\n"),
  );
}
