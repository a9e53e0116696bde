import { MAIL_LOCALES, NOTIFICATION_KINDS } from "@turnout/contracts";
import { describe, expect, it } from "vitest";
import { renderMail } from "./mail-templates.ts";

const links = {
  event: "https://t.example/events/1",
  unsubscribe: "https://t.example/api/mail/unsubscribe?token=a.b.c",
};
const params = {
  eventId: "1",
  eventTitle: "Night <Market>",
  message: "Gates open at 6",
  startsAt: "2026-12-24T17:30:00.000Z",
  timezone: "Europe/Berlin",
  venue: "Pier 3",
};

describe("mail templates", () => {
  for (const kind of NOTIFICATION_KINDS) {
    for (const locale of MAIL_LOCALES) {
      it(`${kind} in ${locale}: subject, both bodies, the unsubscribe link`, () => {
        const mail = renderMail(kind, locale, params, links);
        expect(mail.subject).toContain("Night <Market>");
        expect(mail.text).toContain(links.unsubscribe);
        expect(mail.html).toContain(`href="${links.unsubscribe}"`);
        expect(mail.html).toContain(`<html lang="${locale}">`);
        expect(mail.html).not.toContain("<Market>");
        expect(mail.html).toContain("Night &lt;Market&gt;");
      });
    }
  }

  it("shows the start in the event's time zone and the reader's language", () => {
    expect(renderMail("reminder", "en", params, links).text).toContain(
      "Starts: Thursday, December 24, 2026 at 6:30",
    );
    expect(renderMail("reminder", "de", params, links).text).toContain(
      "Beginn: Donnerstag, 24. Dezember 2026 um 18:30",
    );
  });

  it("falls back to UTC for a time zone it does not know", () => {
    expect(renderMail("reminder", "en", { ...params, timezone: "Mars/Olympus" }, links).text).toContain(
      "5:30",
    );
  });
});
