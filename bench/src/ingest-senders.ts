import { Agent, request } from "node:http";
import { bodyTemplate, ITEMS_PER_BATCH } from "./ingest-body.ts";

/*
 * The ingest scenario's load generator, in its own process (the collector under test never shares an event
 * loop with it). `send` runs SENDERS loops, each posting batches of ITEMS_PER_BATCH to /api/collect one after
 * another for `durationS` seconds. A batch that is not answered 202 (429, 503, a broken connection) is sent
 * again unchanged, ids and timestamps included, as the tracker SDK does; so each sender's accepted batches are
 * exactly 0 .. acceptedBatches[sender] - 1, and item `i` of batch `b` of sender `s` has the id
 * `<prefix>-<s>-<b>-<i>`. Every `probeEvery`-th accepted batch is reported at once over IPC as
 * {probe: firstId, at: Date.now() of its 202}, so the parent can time it until the row is visible.
 *   send {url, prefix, senders, durationS, probeEvery} -> {result: SendResult}
 */

export { ITEMS_PER_BATCH };

export interface SendCommand {
  cmd: "send";
  url: string;
  prefix: string;
  senders: number;
  durationS: number;
  probeEvery: number;
  /**
   * Items per second offered on a fixed schedule (open loop), whatever the answers; 0 or missing: each sender
   * sends its next batch when the last one is answered (closed loop).
   */
  ratePerSec?: number;
}

export interface SendResult {
  /** Per sender: batches answered 202 (numbered from 0). */
  acceptedBatches: number[];
  /** From the first request to the last answer. */
  elapsedMs: number;
  requests: number;
  /** Answers other than 202 and broken requests, each followed by a resend. */
  resent: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /**
   * Open loop only: p99 of how late the senders' own loop posted a batch after it was due (this process
   * starved of CPU). It is inside p99Ms too; a p99Ms far above it is the collector's.
   */
  p99LateMs?: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 1_000 });

/** The answer's status (0 for a broken request) and, for a 429, how long it asks to wait (Retry-After). */
function post(url: URL, body: string): Promise<{ status: number; retryAfterMs: number }> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
        },
      },
      (res) => {
        res.resume();
        const retryAfter = Number(res.headers["retry-after"]);
        res.once("end", () => {
          resolve({
            status: res.statusCode ?? 0,
            retryAfterMs: Number.isFinite(retryAfter) ? retryAfter * 1000 : 1_000,
          });
        });
        res.once("error", () => {
          resolve({ status: 0, retryAfterMs: 0 });
        });
      },
    );
    req.once("error", () => {
      resolve({ status: 0, retryAfterMs: 0 });
    });
    req.end(body);
  });
}

async function send(command: SendCommand): Promise<SendResult> {
  if (!command.url.startsWith("http://127.0.0.1:")) throw new Error(`bench traffic stays on 127.0.0.1`);
  if ((command.ratePerSec ?? 0) > 0) return sendOnSchedule(command);
  const url = new URL("/api/collect", command.url);
  const startedAt = Date.now();
  const endsAt = startedAt + command.durationS * 1_000;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let requests = 0;
  let resent = 0;
  const acceptedBatches = Array.from({ length: command.senders }, () => 0);

  const sender = async (s: number) => {
    const bodyOf = bodyTemplate(s);
    for (let b = 0; Date.now() < endsAt; b++) {
      const body = bodyOf(`${command.prefix}-${s}-${b}-`, new Date().toISOString());
      for (;;) {
        const sentAt = performance.now();
        const { status, retryAfterMs } = await post(url, body);
        requests++;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 202) {
          latencies.push(performance.now() - sentAt);
          break;
        }
        resent++;
        // A 429 is waited out as Retry-After asks (the time counts against acceptedPerSec).
        await new Promise((resolve) => setTimeout(resolve, status === 429 ? retryAfterMs : 100));
      }
      acceptedBatches[s] = b + 1;
      if (b % command.probeEvery === 0)
        process.send?.({ probe: `${command.prefix}-${s}-${b}-0`, at: Date.now() });
    }
  };
  await Promise.all(acceptedBatches.map((_count, s) => sender(s)));
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round((sorted[Math.floor(sorted.length * q)] ?? 0) * 10) / 10;
  return {
    acceptedBatches,
    elapsedMs: Date.now() - startedAt,
    requests,
    resent,
    statuses,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
  };
}

/**
 * Open loop: batch k is due at start + k / (rate / 50) s, goes to sender k mod senders as that sender's next
 * batch, and is posted when due on a connection of its own (the agent opens more as answers lag), without
 * waiting for earlier answers. A batch's latency runs from when it was due, not from when the loop got to it,
 * so a collector that falls behind shows as latency instead of as fewer requests (no coordinated omission).
 * A 429 is waited out as Retry-After asks and the batch posted again, due then; a broken request after 100 ms.
 * When the time is up, the batches already due are all sent until answered 202, so each sender's accepted
 * batches are still exactly 0 .. acceptedBatches[sender] - 1.
 */
async function sendOnSchedule(command: SendCommand): Promise<SendResult> {
  const url = new URL("/api/collect", command.url);
  const batchesPerMs = (command.ratePerSec ?? 0) / ITEMS_PER_BATCH / 1000;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let requests = 0;
  let resent = 0;
  const acceptedBatches = Array.from({ length: command.senders }, () => 0);
  const bodies = acceptedBatches.map((_count, s) => bodyTemplate(s));
  const batches: Promise<void>[] = [];
  const startedAt = Date.now();
  const start = performance.now();
  const durationMs = command.durationS * 1_000;

  const lateness: number[] = [];
  const post202 = async (s: number, b: number, dueAt: number) => {
    lateness.push(performance.now() - dueAt);
    const body = (bodies[s] ?? bodyTemplate(s))(`${command.prefix}-${s}-${b}-`, new Date().toISOString());
    let due = dueAt;
    for (;;) {
      const { status, retryAfterMs } = await post(url, body);
      const answeredAt = performance.now();
      requests++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 202) {
        latencies.push(answeredAt - due);
        break;
      }
      resent++;
      const waitMs = status === 429 ? retryAfterMs : 100;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      due = answeredAt + waitMs;
    }
    if (b % command.probeEvery === 0)
      process.send?.({ probe: `${command.prefix}-${s}-${b}-0`, at: Date.now() });
  };

  for (let k = 0; ;) {
    const now = performance.now();
    if (now - start >= durationMs) break;
    // Every batch due by now, each with the time it was due.
    for (; k <= (now - start) * batchesPerMs && k / batchesPerMs < durationMs; k++) {
      const s = k % command.senders;
      const b = acceptedBatches[s] ?? 0;
      acceptedBatches[s] = b + 1;
      batches.push(post202(s, b, start + k / batchesPerMs));
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(batches);
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round((sorted[Math.floor(sorted.length * q)] ?? 0) * 10) / 10;
  return {
    acceptedBatches,
    elapsedMs: Date.now() - startedAt,
    requests,
    resent,
    statuses,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p99LateMs:
      Math.round((lateness.sort((a, b) => a - b)[Math.floor(lateness.length * 0.99)] ?? 0) * 10) / 10,
  };
}

process.on("message", (command: SendCommand) => {
  send(command).then(
    (result) => process.send?.({ result }),
    (error: unknown) => process.send?.({ error: String(error) }),
  );
});
process.send?.({ ready: true });
