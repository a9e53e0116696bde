/*
 * The `ingest` scenario's request bodies (ingest-senders.ts): item `i` of a batch has the id `<idStart><i>`,
 * and every item of a batch the batch's time.
 */

export const ITEMS_PER_BATCH = 50;

/** One interaction of sender `sender`, as the senders post it. */
export function item(id: string, sender: number, timestamp: string) {
  return {
    id,
    type: "track",
    name: "clicked",
    timestamp,
    anonymousId: `visitor-${sender}`,
    sessionId: `session-${sender}`,
    properties: { eventId: "00000000-0000-7000-8000-000000000042", button: "join", position: 3 },
    context: {
      page: { path: "/events/bench", referrer: "https://search.test/" },
      locale: "en-GB",
      screen: { width: 1280, height: 800 },
    },
  };
}

const ID = "@@id@@";
const TIME = "@@timestamp@@";

/**
 * The body of a batch of sender `s`, as JSON.stringify({batch}) writes it, from the ids' common start and the
 * batch's time: filled into a template made once per sender, so the load generator spends less of the
 * machine's two cores than the system it measures.
 */
export function bodyTemplate(s: number): (idStart: string, timestamp: string) => string {
  const [beforeId = "", rest = ""] = JSON.stringify(item(ID, s, TIME)).split(ID);
  const [betweenIdAndTime = "", afterTime = ""] = rest.split(TIME);
  return (idStart, timestamp) => {
    let body = '{"batch":[';
    for (let i = 0; i < ITEMS_PER_BATCH; i++) {
      body += `${i === 0 ? "" : ","}${beforeId}${idStart}${i}${betweenIdAndTime}${timestamp}${afterTime}`;
    }
    return `${body}]}`;
  };
}

const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36";
const TIMESTAMP_LENGTH = "2026-12-06T12:00:00.000Z".length;

/**
 * The whole HTTP request of batch `b` of sender `s` (POST /api/collect, as node's HTTP client wrote it: the same
 * headers in the same order, keep-alive), with `bodyTemplate`'s body for the ids `<prefix>-<s>-<b>-<i>` and the
 * given time. Made ahead, once per sender and width of `b`, with the batch number's digits and the timestamps
 * left as holes at known offsets; a request is then a copy of those bytes with the holes written, so the
 * load generator does not build 18 KB of string per request in the timed phase.
 */
export function requestTemplate(
  host: string,
  prefix: string,
  s: number,
): (b: number, timestamp: string) => Buffer {
  const byWidth = new Map<number, { bytes: Buffer; batchAt: number[]; timeAt: number[] }>();
  const made = (width: number) => {
    const batchHole = "#".repeat(width);
    const timeHole = "@".repeat(TIMESTAMP_LENGTH);
    const body = bodyTemplate(s)(`${prefix}-${s}-${batchHole}-`, timeHole);
    const head = [
      "POST /api/collect HTTP/1.1",
      "content-type: application/json",
      `content-length: ${Buffer.byteLength(body)}`,
      `user-agent: ${USER_AGENT}`,
      `Host: ${host}`,
      "Connection: keep-alive",
    ].join("\r\n");
    const text = `${head}\r\n\r\n${body}`;
    const holes = (hole: string) => {
      const at: number[] = [];
      for (let i = text.indexOf(hole); i !== -1; i = text.indexOf(hole, i + hole.length)) at.push(i);
      if (at.length !== ITEMS_PER_BATCH) throw new Error(`${at.length} holes for ${hole}`);
      return at;
    };
    // The text is ASCII, so a character's index is its byte's.
    const template = {
      bytes: Buffer.from(text, "latin1"),
      batchAt: holes(batchHole),
      timeAt: holes(timeHole),
    };
    byWidth.set(width, template);
    return template;
  };
  return (b, timestamp) => {
    if (timestamp.length !== TIMESTAMP_LENGTH) throw new Error(`not an ISO time: ${timestamp}`);
    const digits = String(b);
    const { bytes, batchAt, timeAt } = byWidth.get(digits.length) ?? made(digits.length);
    const request = Buffer.allocUnsafe(bytes.length);
    bytes.copy(request);
    for (const at of batchAt) request.write(digits, at, "latin1");
    for (const at of timeAt) request.write(timestamp, at, "latin1");
    return request;
  };
}
