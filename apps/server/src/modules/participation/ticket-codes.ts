import { createHmac, timingSafeEqual } from "node:crypto";

/*
 * Ticket codes: `T1.<ids>.<signature>`, where <ids> is the event id and the user id as 32 raw bytes and
 * <signature> the HMAC-SHA256 of `T1.<ids>` under the ticket secret, both base64url. Binary ids keep the
 * code short (90 characters), so its QR code stays small enough for a phone camera at arm's length.
 * The version prefix lets a later format (say, with an expiry) be told apart from this one.
 */

/** Whose ticket a code is. */
export interface TicketHolder {
  eventId: string;
  userId: string;
}

const PREFIX = "T1";
const ID_BYTES = 16;
const SIGNATURE_BYTES = 32;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The signed code of one person's ticket to one event; throws when an id is not a UUID. */
export function signTicketCode(secret: string, holder: TicketHolder): string {
  const ids = Buffer.concat([uuidBytes(holder.eventId), uuidBytes(holder.userId)]).toString("base64url");
  return `${PREFIX}.${ids}.${sign(secret, ids).toString("base64url")}`;
}

/** The holder a code names, or null unless it is a well-formed code signed with `secret`. Never throws. */
export function verifyTicketCode(secret: string, code: string): TicketHolder | null {
  const [prefix, ids, signature, extra] = code.split(".");
  if (prefix !== PREFIX || ids === undefined || signature === undefined || extra !== undefined) return null;
  const idBytes = canonicalBytes(ids, 2 * ID_BYTES);
  const given = canonicalBytes(signature, SIGNATURE_BYTES);
  if (idBytes === null || given === null) return null;
  if (!timingSafeEqual(given, sign(secret, ids))) return null;
  return {
    eventId: uuidOf(idBytes.subarray(0, ID_BYTES)),
    userId: uuidOf(idBytes.subarray(ID_BYTES)),
  };
}

function sign(secret: string, ids: string): Buffer {
  return createHmac("sha256", secret).update(`${PREFIX}.${ids}`).digest();
}

// Buffer's decoder skips junk characters; only the one canonical spelling of exactly `length` bytes counts,
// so no two strings are the same code.
function canonicalBytes(text: string, length: number): Buffer | null {
  const bytes = Buffer.from(text, "base64url");
  return bytes.length === length && bytes.toString("base64url") === text ? bytes : null;
}

function uuidBytes(id: string): Buffer {
  if (!UUID.test(id)) throw new Error(`not a UUID: ${id}`);
  return Buffer.from(id.replaceAll("-", ""), "hex");
}

// Lower case, as PostgreSQL prints a uuid, so holders compare equal to ids read from the database.
function uuidOf(bytes: Buffer): string {
  const hex = bytes.toString("hex");
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
}
