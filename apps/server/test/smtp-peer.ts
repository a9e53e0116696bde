import { once } from "node:events";
import { SMTPServer } from "smtp-server";

/*
 * A real SMTP peer for tests (smtp-server from npm) on a random 127.0.0.1 port: it keeps every message it
 * accepts, raw and decoded, and can refuse the next few with a temporary 451, as a busy relay does.
 */

export interface ReceivedMail {
  envelopeTo: string[];
  raw: string;
  /** Header names in lower case, folded lines joined. */
  headers: Map<string, string>;
  text: string;
  html: string;
}

export interface SmtpPeer {
  /** smtp://127.0.0.1:<port> */
  url: string;
  port: number;
  received: ReceivedMail[];
  /** Refuses the next `count` messages (at RCPT TO) with 451. */
  refuseNext(count: number): void;
  /** How many messages were refused so far. */
  refused(): number;
  close(): Promise<void>;
}

export async function startSmtpPeer(options: { port?: number } = {}): Promise<SmtpPeer> {
  const received: ReceivedMail[] = [];
  let toRefuse = 0;
  let refusedCount = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (toRefuse > 0) {
        toRefuse -= 1;
        refusedCount += 1;
        callback(Object.assign(new Error("Try again later"), { responseCode: 451 }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        received.push({ envelopeTo: session.envelope.rcptTo.map((to) => to.address), ...parseMail(raw) });
        callback();
      });
    },
  });
  // A sender killed mid-conversation (the cluster tier's SIGKILL of the worker) resets its connection; a real
  // relay shrugs that off, and an SMTPServer without an error listener would throw it into the test run.
  server.on("error", () => undefined);
  server.listen(options.port ?? 0, "127.0.0.1");
  await once(server.server, "listening");
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("smtp peer: no port");
  return {
    url: `smtp://127.0.0.1:${address.port}`,
    port: address.port,
    received,
    refuseNext(count) {
      toRefuse = count;
    },
    refused: () => refusedCount,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Reads a mail as nodemailer writes it: headers, and the text and HTML parts, decoded. */
export function parseMail(raw: string): Omit<ReceivedMail, "envelopeTo"> {
  const { headers, body } = splitHeaders(raw);
  const parts: { headers: Map<string, string>; body: string }[] = [];
  collectParts(headers, body, parts);
  const partOf = (type: string) =>
    parts.find((part) => (part.headers.get("content-type") ?? "").startsWith(type));
  const decode = (part: { headers: Map<string, string>; body: string } | undefined) =>
    part === undefined ? "" : decodeBody(part.headers.get("content-transfer-encoding") ?? "7bit", part.body);
  return { raw, headers, text: decode(partOf("text/plain")), html: decode(partOf("text/html")) };
}

function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const normalized = raw.replaceAll("\r\n", "\n");
  const end = normalized.indexOf("\n\n");
  const head = end === -1 ? normalized : normalized.slice(0, end);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\n[ \t]+/g, " ").split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
    }
  }
  return { headers, body: end === -1 ? "" : normalized.slice(end + 2) };
}

// RFC 2047 encoded words (=?UTF-8?Q?...?= and =?UTF-8?B?...?=), as nodemailer writes non-ASCII headers.
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?utf-8\?([qb])\?([^?]*)\?=/gi, (_word, type: string, text: string) =>
      type.toLowerCase() === "b"
        ? Buffer.from(text, "base64").toString("utf8")
        : decodeBody("quoted-printable", text.replaceAll("_", " ")),
    );
}

function collectParts(
  headers: Map<string, string>,
  body: string,
  into: { headers: Map<string, string>; body: string }[],
): void {
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get("content-type") ?? "")?.[1];
  if (boundary === undefined) {
    into.push({ headers, body });
    return;
  }
  for (const chunk of body.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith("--")) break;
    const part = splitHeaders(chunk.replace(/^\n/, ""));
    collectParts(part.headers, part.body, into);
  }
}

function decodeBody(encoding: string, body: string): string {
  switch (encoding.toLowerCase()) {
    case "base64":
      return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    case "quoted-printable": {
      const joined = body.replace(/=\n/g, "");
      const bytes: number[] = [];
      for (let i = 0; i < joined.length; i += 1) {
        const hex = joined.slice(i + 1, i + 3);
        if (joined[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
          bytes.push(parseInt(hex, 16));
          i += 2;
        } else bytes.push(...Buffer.from(joined[i] ?? "", "utf8"));
      }
      return Buffer.from(bytes).toString("utf8");
    }
    default:
      return body;
  }
}
