import WebSocket from "ws";

/*
 * The fanout scenario's load generator, in its own process (the gateway under test never shares an event loop
 * with it). Commands arrive over IPC; each answer goes back the same way.
 *   connect {urls, channel, clients} -> {connected, failed, ms}   (clients spread round-robin over urls)
 *   phase -> {}   starts a new measurement: latencies and the last receipt are kept per phase
 *   report -> {received, duplicates, p50Ms, p99Ms, lastReceiptAt}   (received: updates, all phases)
 *   storm -> drops every socket, reconnects all resuming from their last position -> {ms, resubscribed}
 *   close -> {}   closes every socket and forgets the clients
 * Every client receives the same frame for one update, so a frame equal to the previous one is not parsed
 * again: the generator stays cheap and the measurement is of the gateway.
 */

interface Client {
  url: string;
  socket: WebSocket | null;
  lastSeq: number;
  received: number;
}

type Command =
  | { cmd: "connect"; urls: string[]; channel: string; clients: number }
  | { cmd: "phase" }
  | { cmd: "report" }
  | { cmd: "storm" }
  | { cmd: "close" };

interface Frame {
  type: string;
  seq?: number;
  event?: { type: string; data: { event?: { updatedAt: string } } };
}

const BATCH = 250;
let clients: Client[] = [];
let latencies: number[] = [];
let lastReceiptAt = 0;
let duplicates = 0;
let channel = "";
let lastBytes: Buffer | null = null;
let lastFrame: Frame = { type: "none" };
let lastCommittedAt: number | null = null;

function readFrame(data: Buffer): Frame {
  if (lastBytes === null || !lastBytes.equals(data)) {
    lastBytes = data;
    lastFrame = JSON.parse(data.toString("utf8")) as Frame;
    const updatedAt =
      lastFrame.event?.type === "event.updated.v1" ? lastFrame.event.data.event?.updatedAt : undefined;
    lastCommittedAt = updatedAt === undefined ? null : Date.parse(updatedAt);
  }
  return lastFrame;
}

function open(client: Client, since?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(client.url, { perMessageDeflate: false });
    client.socket = socket;
    let isSubscribed = false;
    socket.on("open", () => {
      socket.send(JSON.stringify({ type: "subscribe", channel, ...(since === undefined ? {} : { since }) }));
    });
    socket.on("message", (data: Buffer) => {
      const frame = readFrame(data);
      if (frame.type === "subscribed" && !isSubscribed) {
        isSubscribed = true;
        client.lastSeq = Math.max(client.lastSeq, frame.seq ?? 0);
        resolve(true);
        return;
      }
      if (frame.type !== "message" || frame.seq === undefined) return;
      if (frame.seq <= client.lastSeq) {
        duplicates++;
        return;
      }
      client.lastSeq = frame.seq;
      if (lastCommittedAt === null) return;
      client.received++;
      lastReceiptAt = Date.now();
      latencies.push(lastReceiptAt - lastCommittedAt);
    });
    socket.on("error", () => {
      if (!isSubscribed) resolve(false);
    });
    socket.on("close", () => {
      if (!isSubscribed) resolve(false);
    });
  });
}

async function openAll(resume: boolean): Promise<number> {
  let ok = 0;
  for (let start = 0; start < clients.length; start += BATCH) {
    const batch = clients.slice(start, start + BATCH);
    const results = await Promise.all(
      batch.map((client) => open(client, resume ? client.lastSeq : undefined)),
    );
    ok += results.filter(Boolean).length;
  }
  return ok;
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case "connect": {
      channel = command.channel;
      duplicates = 0;
      const startedAt = Date.now();
      clients = Array.from({ length: command.clients }, (_, index) => ({
        url: command.urls[index % command.urls.length] ?? "",
        socket: null,
        lastSeq: 0,
        received: 0,
      }));
      const connected = await openAll(false);
      return { connected, failed: command.clients - connected, ms: Date.now() - startedAt };
    }
    case "phase":
      latencies = [];
      lastReceiptAt = 0;
      return {};
    case "report": {
      const sorted = latencies.sort((a, b) => a - b);
      return {
        received: clients.reduce((sum, client) => sum + client.received, 0),
        duplicates,
        p50Ms: sorted[Math.floor(sorted.length * 0.5)] ?? null,
        p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? null,
        lastReceiptAt,
      };
    }
    case "storm": {
      const startedAt = Date.now();
      for (const client of clients) client.socket?.terminate();
      const resubscribed = await openAll(true);
      return { ms: Date.now() - startedAt, resubscribed };
    }
    case "close":
      for (const client of clients) client.socket?.terminate();
      clients = [];
      return {};
  }
}

process.on("message", (command: Command) => {
  handle(command).then(
    (answer) => process.send?.(answer),
    (error: unknown) => process.send?.({ error: String(error) }),
  );
});
process.send?.({ ready: true });
