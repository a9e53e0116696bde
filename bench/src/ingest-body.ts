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
