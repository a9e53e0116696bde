import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { percentile } from "./burst.ts";
import { bodyTemplate, ITEMS_PER_BATCH, requestTemplate } from "./ingest-body.ts";

/*
 * The ingest scenario's load generator, in its own process (the collector under test never shares an event
 * loop with it). `send` runs SENDERS loops, each posting batches of ITEMS_PER_BATCH to /api/collect one after
 * another for `durationS` seconds. A batch that is not answered 202 (429, 503, a broken connection) is sent
 * again unchanged, ids and timestamps included, as the tracker SDK does; so each sender's accepted batches are
 * exactly 0 .. acceptedBatches[sender] - 1, and item `i` of batch `b` of sender `s` has the id
 * `<prefix>-<s>-<b>-<i>`. Every `probeEvery`-th accepted batch is reported at once over IPC as
 * {probe: firstId, at: Date.now() of its 202}, so the parent can time it until the row is visible. Requests go
 * on keep-alive raw sockets as bytes made ahead (rawClient; BENCH_INGEST_CLIENT=node-http for node's client).
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
  /** Connections the senders opened (one per request in flight at the most, keep-alive). */
  connections: number;
  /** Answers other than 202 and broken requests, each followed by a resend. */
  resent: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** p99 of the batches due in the first WARM_AFTER_MS of traffic (a collector meeting the rate cold). */
  p99First3sMs: number;
  /** p99 of the batches due after that (a warm collector). p99Ms is the whole run's. */
  p99WarmMs: number;
  /**
   * Open loop only: p99 of how late the senders' own loop posted a batch after it was due (this process
   * starved of CPU). It is inside p99Ms too; a p99Ms far above it is the collector's.
   */
  p99LateMs?: number;
  /**
   * Every 202 as [when it was due (closed loop: sent), epoch ms; its latency, ms], flattened: for the core
   * sampler's tail report (core-sampler.ts). Left out of the progress line.
   */
  timeline: number[];
}

/** The first seconds of traffic, reported apart from the rest (ADR 0015: a cold collector's pauses). */
const WARM_AFTER_MS = 3_000;

/** Epoch ms with performance.now()'s resolution, comparable with the other processes' (core-sampler.ts). */
const epochMs = (at: number) => performance.timeOrigin + at;

interface Tally {
  client: Client;
  acceptedBatches: number[];
  startedAt: number;
  requests: number;
  resent: number;
  statuses: Record<string, number>;
  /** Per 202: when its batch was due (performance.now()) and its latency. */
  dueAt: number[];
  latencies: number[];
  /** Open loop only: how late each batch was posted after it was due. */
  lateness?: number[];
}

function newTally(command: SendCommand, client: Client): Tally {
  return {
    client,
    acceptedBatches: Array.from({ length: command.senders }, () => 0),
    startedAt: Date.now(),
    requests: 0,
    resent: 0,
    statuses: {},
    dueAt: [],
    latencies: [],
  };
}

/** Counts a 202 in the tally. */
function accepted(tally: Tally, due: number, answeredAt: number): void {
  tally.dueAt.push(due);
  tally.latencies.push(answeredAt - due);
}

/** The one place a SendResult is made from what the senders saw. */
function resultOf(tally: Tally): SendResult {
  const { dueAt, latencies, lateness } = tally;
  const firstDue = dueAt.reduce((min, due) => Math.min(min, due), Number.POSITIVE_INFINITY);
  const cold: number[] = [];
  const warm: number[] = [];
  const timeline: number[] = [];
  for (let i = 0; i < latencies.length; i++) {
    const due = dueAt[i] ?? 0;
    const ms = latencies[i] ?? 0;
    (due - firstDue < WARM_AFTER_MS ? cold : warm).push(ms);
    timeline.push(Math.round(epochMs(due) * 100) / 100, Math.round(ms * 100) / 100);
  }
  return {
    acceptedBatches: tally.acceptedBatches,
    elapsedMs: Date.now() - tally.startedAt,
    requests: tally.requests,
    connections: tally.client.opened(),
    resent: tally.resent,
    statuses: tally.statuses,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    p99First3sMs: percentile(cold, 0.99),
    p99WarmMs: percentile(warm, 0.99),
    ...(lateness === undefined ? {} : { p99LateMs: percentile(lateness, 0.99) }),
    timeline,
  };
}

interface Answer {
  /** 0 for a broken request. */
  status: number;
  /** For a 429, how long it asks to wait (Retry-After). */
  retryAfterMs: number;
}

interface Client {
  /** Makes batch `b` of sender `s` with the given time; the function it returns posts it (again on a resend). */
  batch(s: number, b: number, timestamp: string): () => Promise<Answer>;
  /** Closes the idle connections once a run is over. */
  close(): void;
  /** Connections opened so far. */
  opened(): number;
}

const MAX_CONNECTIONS = 1_000;

function retryAfterMs(value: string | undefined): number {
  const seconds = Number(value);
  return value !== undefined && Number.isFinite(seconds) ? seconds * 1000 : 1_000;
}

/**
 * The default client: keep-alive connections of raw sockets, each request written as the bytes
 * `requestTemplate` made ahead and each answer read by its Content-Length, as burst.ts's crowd does. Node's
 * HTTP client cost this process about as much CPU again per request (ADR 0015, 2026-12-06 evening), on cores
 * the system under test shares. As many connections as requests in flight, up to MAX_CONNECTIONS (as the
 * agent had); the most recently freed is reused first, and beyond that the oldest request waiting gets the next.
 */
function rawClient(url: URL, prefix: string): Client {
  const port = Number(url.port);
  const templates = new Map<number, ReturnType<typeof requestTemplate>>();
  const idle: Socket[] = [];
  // Requests waiting for a connection (all MAX_CONNECTIONS busy), oldest first: a freed connection goes to the
  // oldest, so a batch due early is not overtaken by the ones due after it.
  const waiting: ((socket: Socket) => void)[] = [];
  let open = 0;
  let opened = 0;

  const openConnection = (): Socket => {
    open++;
    opened++;
    const fresh = connect({ host: "127.0.0.1", port, noDelay: true });
    fresh.once("close", () => {
      open--;
      const index = idle.indexOf(fresh);
      if (index !== -1) idle.splice(index, 1);
      waiting.shift()?.(openConnection());
    });
    fresh.on("error", () => undefined);
    return fresh;
  };
  const acquire = (): Promise<Socket> | Socket => {
    const socket = idle.pop();
    if (socket !== undefined) return socket;
    if (open < MAX_CONNECTIONS) return openConnection();
    return new Promise((resolve) => waiting.push(resolve));
  };
  const release = (socket: Socket) => {
    const oldest = waiting.shift();
    if (oldest === undefined) idle.push(socket);
    else oldest(socket);
  };

  const exchange = (socket: Socket, request: Buffer): Promise<Answer> =>
    new Promise((resolve) => {
      let received: Buffer | undefined;
      const finish = (answer: Answer, reusable: boolean) => {
        socket.off("data", onData);
        socket.off("close", onClose);
        if (reusable) release(socket);
        else socket.destroy();
        resolve(answer);
      };
      const onClose = () => {
        finish({ status: 0, retryAfterMs: 0 }, false);
      };
      const onData = (chunk: Buffer) => {
        received = received === undefined ? chunk : Buffer.concat([received, chunk]);
        const headEnd = received.indexOf("\r\n\r\n");
        if (headEnd === -1) return;
        const head = received.toString("latin1", 0, headEnd);
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN);
        const answer = {
          status: Number(head.slice(9, 12)),
          retryAfterMs: retryAfterMs(/\r\nretry-after:\s*(\S+)/i.exec(head)?.[1]),
        };
        // Without a Content-Length (never from the collector) the body's end is unknown: the status is enough,
        // and the connection is not reused.
        if (!Number.isFinite(length)) finish(answer, false);
        else if (received.length >= headEnd + 4 + length)
          finish(answer, received.length === headEnd + 4 + length && !/\r\nconnection:\s*close/i.test(head));
      };
      socket.on("data", onData);
      socket.once("close", onClose);
      socket.write(request);
    });

  return {
    batch(s, b, timestamp) {
      let template = templates.get(s);
      if (template === undefined) {
        template = requestTemplate(url.host, prefix, s);
        templates.set(s, template);
      }
      const request = template(b, timestamp);
      return async () => exchange(await acquire(), request);
    },
    close() {
      for (const socket of idle.splice(0)) socket.destroy();
    },
    opened: () => opened,
  };
}

/** BENCH_INGEST_CLIENT=node-http: node's HTTP client with a keep-alive agent, the client before the raw one. */
function nodeHttpClient(url: URL, prefix: string): Client {
  const agent = new Agent({ keepAlive: true, maxSockets: MAX_CONNECTIONS });
  let opened = 0;
  const createConnection = agent.createConnection.bind(agent);
  agent.createConnection = (...args: Parameters<typeof createConnection>) => {
    opened++;
    return createConnection(...args);
  };
  const bodies = new Map<number, ReturnType<typeof bodyTemplate>>();
  return {
    close: () => {
      agent.destroy();
    },
    opened: () => opened,
    batch(s, b, timestamp) {
      let bodyOf = bodies.get(s);
      if (bodyOf === undefined) {
        bodyOf = bodyTemplate(s);
        bodies.set(s, bodyOf);
      }
      const body = bodyOf(`${prefix}-${s}-${b}-`, timestamp);
      return () =>
        new Promise((resolve) => {
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
              const retryAfter = res.headers["retry-after"];
              res.once("end", () => {
                resolve({ status: res.statusCode ?? 0, retryAfterMs: retryAfterMs(retryAfter) });
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
    },
  };
}

function clientFor(command: SendCommand): Client {
  const url = new URL("/api/collect", command.url);
  return process.env.BENCH_INGEST_CLIENT === "node-http"
    ? nodeHttpClient(url, command.prefix)
    : rawClient(url, command.prefix);
}

async function send(command: SendCommand): Promise<SendResult> {
  if (!command.url.startsWith("http://127.0.0.1:")) throw new Error(`bench traffic stays on 127.0.0.1`);
  const client = clientFor(command);
  try {
    return await ((command.ratePerSec ?? 0) > 0
      ? sendOnSchedule(command, client)
      : sendInClosedLoops(command, client));
  } finally {
    client.close();
  }
}

async function sendInClosedLoops(command: SendCommand, client: Client): Promise<SendResult> {
  const tally = newTally(command, client);
  const { acceptedBatches, statuses } = tally;
  const endsAt = tally.startedAt + command.durationS * 1_000;

  const sender = async (s: number) => {
    for (let b = 0; Date.now() < endsAt; b++) {
      const post = client.batch(s, b, new Date().toISOString());
      for (;;) {
        const sentAt = performance.now();
        const { status, retryAfterMs } = await post();
        tally.requests++;
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 202) {
          accepted(tally, sentAt, performance.now());
          break;
        }
        tally.resent++;
        // A 429 is waited out as Retry-After asks (the time counts against acceptedPerSec).
        await new Promise((resolve) => setTimeout(resolve, status === 429 ? retryAfterMs : 100));
      }
      acceptedBatches[s] = b + 1;
      if (b % command.probeEvery === 0)
        process.send?.({ probe: `${command.prefix}-${s}-${b}-0`, at: Date.now() });
    }
  };
  await Promise.all(acceptedBatches.map((_count, s) => sender(s)));
  return resultOf(tally);
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
async function sendOnSchedule(command: SendCommand, client: Client): Promise<SendResult> {
  const batchesPerMs = (command.ratePerSec ?? 0) / ITEMS_PER_BATCH / 1000;
  const lateness: number[] = [];
  const tally: Tally = { ...newTally(command, client), lateness };
  const { acceptedBatches, statuses } = tally;
  const batches: Promise<void>[] = [];
  const start = performance.now();
  const durationMs = command.durationS * 1_000;

  const post202 = async (s: number, b: number, dueAt: number) => {
    lateness.push(performance.now() - dueAt);
    const post = client.batch(s, b, new Date().toISOString());
    let due = dueAt;
    for (;;) {
      const { status, retryAfterMs } = await post();
      const answeredAt = performance.now();
      tally.requests++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 202) {
        accepted(tally, due, answeredAt);
        break;
      }
      tally.resent++;
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
  return resultOf(tally);
}

process.on("message", (command: SendCommand) => {
  send(command).then(
    (result) => process.send?.({ result }),
    (error: unknown) => process.send?.({ error: String(error) }),
  );
});
process.send?.({ ready: true });
