/*
 * Reads a stored mail (the .eml of GET /api/admin/mail/:id/eml, RFC 5322 with MIME) far enough to show it:
 * the headers people read, and the plain-text and HTML bodies. Only what nodemailer writes and common mail
 * uses: multipart nesting, 7bit/8bit/quoted-printable/base64, charsets TextDecoder knows, RFC 2047 encoded
 * words in headers. Attachments are skipped.
 */

export interface MailFile {
  /** Header values by lower-case name, encoded words decoded; the first one when a header repeats. */
  headers: ReadonlyMap<string, string>;
  text: string | null;
  html: string | null;
}

interface Part {
  headers: Map<string, string>;
  body: string;
}

/** The headers and bodies of one stored mail. */
export function readMailFile(raw: string): MailFile {
  const root = splitPart(raw);
  const bodies: { text: string | null; html: string | null } = { text: null, html: null };
  collectBodies(root, bodies);
  return { headers: root.headers, ...bodies };
}

function splitPart(raw: string): Part {
  const match = /\r?\n\r?\n/.exec(raw);
  const head = match === null ? raw : raw.slice(0, match.index);
  const body = match === null ? "" : raw.slice(match.index + match[0].length);
  const headers = new Map<string, string>();
  // Unfolding: a line that starts with white space continues the header above it.
  for (const line of head.replace(/\r?\n(?=[ \t])/g, "").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, decodeWords(line.slice(colon + 1).trim()));
  }
  return { headers, body };
}

function collectBodies(part: Part, found: { text: string | null; html: string | null }): void {
  const { type, params } = parseContentType(part.headers.get("content-type") ?? "text/plain");
  const isAttachment = /^\s*attachment/i.test(part.headers.get("content-disposition") ?? "");
  if (type.startsWith("multipart/")) {
    const boundary = params.get("boundary");
    if (boundary === undefined) return;
    for (const child of splitMultipart(part.body, boundary)) collectBodies(splitPart(child), found);
    return;
  }
  if (isAttachment) return;
  const key = type === "text/plain" ? "text" : type === "text/html" ? "html" : null;
  if (key === null || found[key] !== null) return;
  const encoding = (part.headers.get("content-transfer-encoding") ?? "7bit").trim().toLowerCase();
  found[key] = decodeBody(part.body, encoding, params.get("charset") ?? "utf-8");
}

function parseContentType(value: string): { type: string; params: Map<string, string> } {
  const [type = "", ...rest] = value.split(";");
  const params = new Map<string, string>();
  for (const item of rest) {
    const equals = item.indexOf("=");
    if (equals < 0) continue;
    const name = item.slice(0, equals).trim().toLowerCase();
    params.set(
      name,
      item
        .slice(equals + 1)
        .trim()
        .replace(/^"(.*)"$/, "$1"),
    );
  }
  return { type: type.trim().toLowerCase(), params };
}

/** The parts between `--boundary` lines, up to the closing `--boundary--`. */
function splitMultipart(body: string, boundary: string): string[] {
  const parts: string[] = [];
  let current: string[] | null = null;
  for (const line of body.split(/\r?\n/)) {
    const trimmed = line.trimEnd();
    if (trimmed === `--${boundary}--`) break;
    if (trimmed === `--${boundary}`) {
      if (current !== null) parts.push(current.join("\r\n"));
      current = [];
    } else current?.push(line);
  }
  if (current !== null) parts.push(current.join("\r\n"));
  return parts;
}

function decodeBody(body: string, encoding: string, charset: string): string {
  if (encoding === "base64") return decodeBytes(base64Bytes(body), charset);
  if (encoding === "quoted-printable") return decodeBytes(quotedPrintableBytes(body), charset);
  // 7bit or 8bit: the text arrived as it is (the file was read as UTF-8); only the line breaks change.
  return body.replace(/\r\n/g, "\n");
}

function base64Bytes(text: string): Uint8Array {
  try {
    return Uint8Array.from(atob(text.replace(/[^A-Za-z0-9+/=]/g, "")), (char) => char.charCodeAt(0));
  } catch {
    return new Uint8Array();
  }
}

function quotedPrintableBytes(text: string): Uint8Array {
  // A "=" at the end of a line is a soft break: the line goes on.
  const joined = text.replace(/=\r?\n/g, "").replace(/\r\n/g, "\n");
  return escapedBytes(joined, /=([0-9A-Fa-f]{2})/g);
}

/** The bytes of `text`, with each match of `escape` (one hex byte in group 1) standing for that byte. */
function escapedBytes(text: string, escape: RegExp): Uint8Array {
  const encoder = new TextEncoder();
  const bytes: number[] = [];
  let last = 0;
  for (const match of text.matchAll(escape)) {
    bytes.push(...encoder.encode(text.slice(last, match.index)), parseInt(match[1] ?? "0", 16));
    last = match.index + match[0].length;
  }
  bytes.push(...encoder.encode(text.slice(last)));
  return Uint8Array.from(bytes);
}

function decodeBytes(bytes: Uint8Array, charset: string): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    decoder = new TextDecoder("utf-8"); // a charset this browser does not know
  }
  return decoder.decode(bytes).replace(/\r\n/g, "\n");
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * RFC 2047: `=?UTF-8?Q?J=C3=BCrgen?=` is "Jürgen". White space between two encoded words is dropped, and
 * their bytes are joined before decoding, since a writer may split one character across two words.
 */
function decodeWords(value: string): string {
  let result = "";
  let last = 0;
  let pending: { charset: string; bytes: number[] } | null = null;
  const flush = () => {
    if (pending !== null) result += decodeBytes(Uint8Array.from(pending.bytes), pending.charset);
    pending = null;
  };
  for (const match of value.matchAll(ENCODED_WORD)) {
    const between = value.slice(last, match.index);
    const [, charset = "utf-8", kind = "Q", text = ""] = match;
    const bytes =
      kind.toUpperCase() === "B"
        ? base64Bytes(text)
        : escapedBytes(text.replaceAll("_", " "), /=([0-9A-Fa-f]{2})/g);
    if (pending !== null && /^\s*$/.test(between) && pending.charset === charset) {
      pending.bytes.push(...bytes);
    } else {
      flush();
      result += between;
      pending = { charset, bytes: [...bytes] };
    }
    last = match.index + match[0].length;
  }
  flush();
  return result + value.slice(last);
}

// A start tag, its attributes (values in any of HTML's three spellings, so a quoted ">" does not end it).
const START_TAG = /<([a-z][^\s/>]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*(\/?)>/gi;
const ATTRIBUTE = /\s+([^\s"'>/=]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?/g;
const REFUSED_ELEMENT = /<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>|<link\b[^>]*>/gi;

/**
 * A mail's HTML without what the sandboxed frame that shows it refuses anyway: scripts and event handlers
 * (the sandbox allows no scripts), inline styles and style sheets (the frame inherits the app's CSP). Each
 * refusal would be logged as an error. This is tidying, not the defence (the sandbox is), so a pass over the
 * text is enough; parsing the HTML in the page would itself apply the inline styles and log the same errors.
 */
export function withoutRefusedParts(html: string): string {
  return html
    .replace(REFUSED_ELEMENT, "")
    .replace(START_TAG, (_tag, name: string, attributes: string, end: string) => {
      let kept = "";
      for (const match of attributes.matchAll(ATTRIBUTE)) {
        const attribute = (match[1] ?? "").toLowerCase();
        if (attribute !== "style" && !attribute.startsWith("on")) kept += match[0];
      }
      return `<${name}${kept}${end}>`;
    });
}
