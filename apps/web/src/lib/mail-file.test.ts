import { describe, expect, it } from "vitest";
import { readMailFile, withoutRefusedParts } from "./mail-file.ts";

// Written by nodemailer's MailComposer from the server's own German "participation.confirmed" template, as the
// file transport stores it (CRLF line ends, quoted-printable, encoded words in To and Subject).
const NODEMAILER_MAIL = [
  "Content-Language: de",
  "X-Turnout-Kind: participation.confirmed",
  "From: Turnout <turnout@localhost>",
  "To: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.test>",
  "Subject: =?UTF-8?Q?Du_bist_dabei=3A_Sommerfest_im_Gr=C3=B6?=",
  " =?UTF-8?Q?=C3=9Ften_Hof_=E2=80=93_=E2=80=9EW=C3=BC?=",
  " =?UTF-8?Q?rstchen=E2=80=9C_=26_Bier?=",
  "Message-ID: <m1@localhost>",
  "Date: Sun, 06 Dec 2026 08:00:00 +0000",
  "MIME-Version: 1.0",
  "Content-Type: multipart/alternative;",
  ' boundary="--_NmP-c2128dab649654a1-Part_1"',
  "",
  "----_NmP-c2128dab649654a1-Part_1",
  "Content-Type: text/plain; charset=utf-8",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "Dein Platz ist best=C3=A4tigt\n\nDu hast einen best=C3=A4tigten Platz bei =",
  "Sommerfest im Gr=C3=B6=C3=9Ften Hof =E2=80=93 =E2=80=9EW=C3=BCrstchen=",
  "=E2=80=9C & Bier.\n\nBeginn: Samstag, 12. Juni 2027 um 18:00 MESZ\n\nZur Veranstaltung: http://localhost:3000/events/0192f0a0-0000-7000-8000-000=",
  "000000001\n\n--=20\nDu bekommst diese E-Mail, weil du auf Turnout an dieser =",
  "Veranstaltung teilnimmst.\nDiese E-Mails abbestellen: =",
  "http://localhost:3000/api/mail/unsubscribe?token=3Dabc.emailOnJoin.xyz\n",
  "----_NmP-c2128dab649654a1-Part_1",
  "Content-Type: text/html; charset=utf-8",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  '<!doctype html>\n<html lang=3D"de"><head><meta charset=3D"utf-8"><title>Du =',
  "bist dabei: Sommerfest im Gr=C3=B6=C3=9Ften Hof =E2=80=93 =",
  '=E2=80=9EW=C3=BCrstchen=E2=80=9C &amp; Bier</title></head>\n<body style=3D"font-family: system-ui, sans-serif; line-height: 1.5; color:=',
  ' #1f2933;">\n<h1 style=3D"font-size: 1.25rem;">Dein Platz ist =',
  "best=C3=A4tigt</h1>\n<p>Du hast einen best=C3=A4tigten Platz bei Sommerfest =",
  "im Gr=C3=B6=C3=9Ften Hof =E2=80=93 =E2=80=9EW=C3=BCrstchen=E2=80=9C &amp; =",
  'Bier.</p>\n<p>Beginn: Samstag, 12. Juni 2027 um 18:00 MESZ</p>\n<p><a href=3D"http://localhost:3000/events/0192f0a0-0000-7000-8000-00000000=',
  '0001">Zur Veranstaltung</a></p>\n<hr><p style=3D"font-size: 0.85rem; color: =',
  '#52606d;">\nDu bekommst diese E-Mail, weil du auf Turnout an dieser =',
  'Veranstaltung teilnimmst.<br>\n<a href=3D"http://localhost:3000/api/mail/uns=',
  'ubscribe?token=3Dabc.emailOnJoin.xyz">Diese E-Mails abbestellen</a>\n</p></body></html>\n',
  "----_NmP-c2128dab649654a1-Part_1--",
  "",
].join("\r\n");

describe("reading a stored mail", () => {
  it("decodes nodemailer's headers and both bodies, quoted-printable and soft breaks included", () => {
    const mail = readMailFile(NODEMAILER_MAIL);
    expect(mail.headers.get("subject")).toBe("Du bist dabei: Sommerfest im Größten Hof – „Würstchen“ & Bier");
    expect(mail.headers.get("to")).toBe("Jürgen Müller <juergen@example.test>");
    expect(mail.headers.get("from")).toBe("Turnout <turnout@localhost>");
    expect(mail.headers.get("x-turnout-kind")).toBe("participation.confirmed");
    expect(mail.text).toContain("Dein Platz ist bestätigt\n\nDu hast einen bestätigten Platz bei Sommerfest");
    expect(mail.text).toContain(
      "Zur Veranstaltung: http://localhost:3000/events/0192f0a0-0000-7000-8000-000000000001\n",
    );
    expect(mail.text).toContain(
      "abbestellen: http://localhost:3000/api/mail/unsubscribe?token=abc.emailOnJoin.xyz",
    );
    expect(mail.text).not.toMatch(/=[0-9A-F]{2}|=\n|\r/);
    expect(mail.html).toContain('<h1 style="font-size: 1.25rem;">Dein Platz ist bestätigt</h1>');
    expect(mail.html).toContain("„Würstchen“ &amp; Bier.</p>");
    expect(mail.html).toContain(
      '<a href="http://localhost:3000/api/mail/unsubscribe?token=abc.emailOnJoin.xyz">',
    );
  });

  it("reads the same file with bare LF line ends", () => {
    const mail = readMailFile(NODEMAILER_MAIL.replaceAll("\r\n", "\n"));
    expect(mail.headers.get("subject")).toBe("Du bist dabei: Sommerfest im Größten Hof – „Würstchen“ & Bier");
    expect(mail.html).toContain("„Würstchen“ &amp; Bier.</p>");
  });

  it("reads nested multiparts, base64, other charsets and B-encoded words, and skips attachments", () => {
    const utf8Base64 = btoa(String.fromCharCode(...new TextEncoder().encode("日本語のテキスト ✓")));
    const mail = readMailFile(
      [
        "Subject: =?ISO-8859-1?B?R3L832U=?= aus =?utf-8?q?K=C3=B6ln?=",
        "Content-Type: multipart/mixed; boundary=outer",
        "",
        "preamble",
        "--outer",
        'Content-Type: multipart/alternative; boundary="inner"',
        "",
        "--inner",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: base64",
        "",
        utf8Base64.slice(0, 10),
        utf8Base64.slice(10),
        "--inner",
        "Content-Type: text/html; charset=iso-8859-1",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "<p>Gr=FC=DFe</p>",
        "--inner--",
        "--outer",
        "Content-Type: text/plain",
        "Content-Disposition: attachment; filename=notes.txt",
        "",
        "not the body",
        "--outer--",
      ].join("\r\n"),
    );
    expect(mail.headers.get("subject")).toBe("Grüße aus Köln");
    expect(mail.text).toBe("日本語のテキスト ✓");
    expect(mail.html).toBe("<p>Grüße</p>");
  });

  it("reads a single-part plain mail, and says when a body is missing", () => {
    const mail = readMailFile("Subject: Hello\nContent-Type: text/plain\n\nLine one\nLine two\n");
    expect(mail.headers.get("subject")).toBe("Hello");
    expect(mail.text).toBe("Line one\nLine two\n");
    expect(mail.html).toBeNull();
    expect(readMailFile("Subject: no body").text).toBe("");
  });

  it("drops what the sandboxed frame would refuse: scripts, handlers, inline styles, style sheets", () => {
    const html = [
      '<html><head><style>p { color: red }</style><link rel="stylesheet" href="https://x.test/a.css">',
      '<script type="module">alert(1)</script></head>',
      '<body STYLE="margin:0" class="m"><p style=\'color: red\' title="a style=b > c">Hi</p>',
      '<img src=x onerror="alert(1)" onload=alert(2) alt="style">',
      "<p>Text that says style=&quot;x&quot; and onclick stays.</p></body></html>",
    ].join("");
    expect(withoutRefusedParts(html)).toBe(
      [
        "<html><head></head>",
        '<body class="m"><p title="a style=b > c">Hi</p>',
        '<img src=x alt="style">',
        "<p>Text that says style=&quot;x&quot; and onclick stays.</p></body></html>",
      ].join(""),
    );
  });
});
