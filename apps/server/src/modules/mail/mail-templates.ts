import type { MailLocale, NotificationKind } from "@turnout/contracts";
import { z } from "zod";

/*
 * One template per mail kind, in each language: a template gives the parts of a mail (subject, heading,
 * paragraphs), and one layout turns those parts into both the plain-text and the HTML body, so the two never
 * say different things.
 */

/** What a mail says about its event, stored with the mail when its trigger happens. */
export const mailParamsSchema = z.object({
  eventId: z.string().nullable(),
  eventTitle: z.string(),
  /** The announcement's text. */
  message: z.string().optional(),
  /** The event's (new) start, ISO, and the time zone to show it in. */
  startsAt: z.string().optional(),
  timezone: z.string().optional(),
  venue: z.string().nullable().optional(),
});
export type MailParams = z.infer<typeof mailParamsSchema>;

interface MailParts {
  subject: string;
  heading: string;
  paragraphs: string[];
}

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MailLinks {
  /** The event's page, when the mail is about one. */
  event: string | null;
  /** The unsubscribe page of this kind of mail. */
  unsubscribe: string;
}

type Template = (params: MailParams, when: string | null) => MailParts;

const TEMPLATES: Record<NotificationKind, Record<MailLocale, Template>> = {
  "participation.confirmed": {
    en: (p, when) => ({
      subject: `You're in: ${p.eventTitle}`,
      heading: "Your place is confirmed",
      paragraphs: [`You have a confirmed place at ${p.eventTitle}.`, ...startLine("en", when)],
    }),
    de: (p, when) => ({
      subject: `Du bist dabei: ${p.eventTitle}`,
      heading: "Dein Platz ist bestätigt",
      paragraphs: [`Du hast einen bestätigten Platz bei ${p.eventTitle}.`, ...startLine("de", when)],
    }),
  },
  "participation.promoted": {
    en: (p, when) => ({
      subject: `A seat opened up: ${p.eventTitle}`,
      heading: "You moved up from the waitlist",
      paragraphs: [
        `A place became free and it is yours: you are confirmed for ${p.eventTitle}.`,
        ...startLine("en", when),
      ],
    }),
    de: (p, when) => ({
      subject: `Ein Platz ist frei geworden: ${p.eventTitle}`,
      heading: "Du bist von der Warteliste nachgerückt",
      paragraphs: [
        `Ein Platz ist frei geworden und gehört dir: du bist für ${p.eventTitle} bestätigt.`,
        ...startLine("de", when),
      ],
    }),
  },
  "event.changed": {
    en: (p, when) => ({
      subject: `Changed: ${p.eventTitle}`,
      heading: "The time or place of this event changed",
      paragraphs: [
        `The organizer of ${p.eventTitle} changed its time or place.`,
        ...startLine("en", when),
        ...(p.venue ? [`Where: ${p.venue}`] : []),
      ],
    }),
    de: (p, when) => ({
      subject: `Geändert: ${p.eventTitle}`,
      heading: "Zeit oder Ort dieser Veranstaltung haben sich geändert",
      paragraphs: [
        `Die Veranstaltung ${p.eventTitle} hat eine neue Zeit oder einen neuen Ort.`,
        ...startLine("de", when),
        ...(p.venue ? [`Wo: ${p.venue}`] : []),
      ],
    }),
  },
  "event.cancelled": {
    en: (p) => ({
      subject: `Cancelled: ${p.eventTitle}`,
      heading: "This event is cancelled",
      paragraphs: [`The organizer cancelled ${p.eventTitle}. Your place there has ended.`],
    }),
    de: (p) => ({
      subject: `Abgesagt: ${p.eventTitle}`,
      heading: "Diese Veranstaltung ist abgesagt",
      paragraphs: [`Die Veranstaltung ${p.eventTitle} wurde abgesagt. Dein Platz dort ist damit hinfällig.`],
    }),
  },
  announcement: {
    en: (p) => ({
      subject: `New announcement: ${p.eventTitle}`,
      heading: `The organizer of ${p.eventTitle} writes`,
      paragraphs: [p.message ?? ""],
    }),
    de: (p) => ({
      subject: `Neue Mitteilung: ${p.eventTitle}`,
      heading: `Die Veranstalter von ${p.eventTitle} schreiben`,
      paragraphs: [p.message ?? ""],
    }),
  },
  reminder: {
    en: (p, when) => ({
      subject: `Tomorrow: ${p.eventTitle}`,
      heading: "Your event is coming up",
      paragraphs: [`${p.eventTitle} starts within the next 24 hours.`, ...startLine("en", when)],
    }),
    de: (p, when) => ({
      subject: `Morgen: ${p.eventTitle}`,
      heading: "Deine Veranstaltung steht bevor",
      paragraphs: [`${p.eventTitle} beginnt in den nächsten 24 Stunden.`, ...startLine("de", when)],
    }),
  },
};

const FOOTER: Record<MailLocale, { event: string; unsubscribe: string; why: string }> = {
  en: {
    event: "Open the event",
    unsubscribe: "Unsubscribe from these mails",
    why: "You get this mail because you take part in this event on Turnout.",
  },
  de: {
    event: "Zur Veranstaltung",
    unsubscribe: "Diese E-Mails abbestellen",
    why: "Du bekommst diese E-Mail, weil du auf Turnout an dieser Veranstaltung teilnimmst.",
  },
};

function startLine(locale: MailLocale, when: string | null): string[] {
  if (when === null) return [];
  return [locale === "de" ? `Beginn: ${when}` : `Starts: ${when}`];
}

function formatStart(locale: MailLocale, params: MailParams): string | null {
  if (params.startsAt === undefined) return null;
  const options: Intl.DateTimeFormatOptions = {
    weekday: "long",
    year: "numeric",
    month: "long",
    day: "numeric",
    hour: "numeric",
    minute: "2-digit",
    timeZoneName: "short",
  };
  try {
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: params.timezone ?? "UTC" }).format(
      new Date(params.startsAt),
    );
  } catch {
    // An unknown time zone name: the same moment in UTC rather than no time at all.
    return new Intl.DateTimeFormat(locale, { ...options, timeZone: "UTC" }).format(new Date(params.startsAt));
  }
}

/** The subject and both bodies of one mail, in `locale`. */
export function renderMail(
  kind: NotificationKind,
  locale: MailLocale,
  params: MailParams,
  links: MailLinks,
): RenderedMail {
  const parts = TEMPLATES[kind][locale](params, formatStart(locale, params));
  const footer = FOOTER[locale];
  const text = [
    parts.heading,
    "",
    ...parts.paragraphs.flatMap((paragraph) => [paragraph, ""]),
    ...(links.event === null ? [] : [`${footer.event}: ${links.event}`, ""]),
    "-- ",
    footer.why,
    `${footer.unsubscribe}: ${links.unsubscribe}`,
    "",
  ].join("\n");
  const html = [
    "<!doctype html>",
    `<html lang="${locale}"><head><meta charset="utf-8"><title>${escapeHtml(parts.subject)}</title></head>`,
    '<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1f2933;">',
    `<h1 style="font-size: 1.25rem;">${escapeHtml(parts.heading)}</h1>`,
    ...parts.paragraphs.map((paragraph) => `<p>${escapeHtml(paragraph).replaceAll("\n", "<br>")}</p>`),
    ...(links.event === null
      ? []
      : [`<p><a href="${escapeHtml(links.event)}">${escapeHtml(footer.event)}</a></p>`]),
    '<hr><p style="font-size: 0.85rem; color: #52606d;">',
    `${escapeHtml(footer.why)}<br>`,
    `<a href="${escapeHtml(links.unsubscribe)}">${escapeHtml(footer.unsubscribe)}</a>`,
    "</p></body></html>",
    "",
  ].join("\n");
  return { subject: parts.subject, text, html };
}

export function escapeHtml(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}
