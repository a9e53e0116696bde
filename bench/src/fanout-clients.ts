import WebSocket from "ws";

/*
 * The fanout scenario's load generator, in its own process (the gateway under test never shares an event loop
 * with it). Commands arrive over IPC; each answer goes back the same way.
 *   connect {url, channel, clients} -> {connected, failed, ms}
 *   report -> {received, duplicates, latenciesMs (sorted sample), perClientMin}
 *   storm -> drops every socket, reconnects all resuming from their last position -> {ms, resubscribed}
 */

interface Client {
  socket: WebSocket;
  lastSeq: number;
  received: number;
}

type Command =
  { cmd: "connect"; url: string; channel: string; clients: number } | { cmd: "report" } | { cmd: "storm" };

const BATCH = 250;
const clients: Client[] = [];
const latencies: number[] = [];
let duplicates = 0;
let url = "";
let channel = "";

function open(client: Client, since?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    client.socket = socket;
    let isSubscribed = false;
    socket.on("open", () => {
      socket.send(JSON.stringify({ type: "subscribe", channel, ...(since === undefined ? {} : { since }) }));
    });
    socket.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString("utf8")) as {
        type: string;
        seq?: number;
        event?: { type: string; data: { event?: { updatedAt: string } } };
      };
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
      const updatedAt = frame.event?.data.event?.updatedAt;
      if (frame.event?.type !== "event.updated.v1" || updatedAt === undefined) return;
      client.received++;
      latencies.push(Date.now() - Date.parse(updatedAt));
    });
    socket.on("error", () => {
      if (!isSubscribed) resolve(false);
    });
    socket.on("close", () => {
      if (!isSubscribed) resolve(false);
    });
  });
}

async function openAll(count: number, resume: boolean): Promise<number> {
  let ok = 0;
  for (let start = 0; start < count; start += BATCH) {
    const batch = clients.slice(start, Math.min(count, start + BATCH));
    const results = await Promise.all(
      batch.map((client) => open(client, resume ? client.lastSeq : undefined)),
    );
    ok += results.filter(Boolean).length;
  }
  return ok;
}

async function handle(command: Command): Promise<unknown> {
  if (command.cmd === "connect") {
    url = command.url;
    channel = command.channel;
    const startedAt = Date.now();
    for (let i = 0; i < command.clients; i++) {
      clients.push({ socket: undefined as unknown as WebSocket, lastSeq: 0, received: 0 });
    }
    const connected = await openAll(command.clients, false);
    return { connected, failed: command.clients - connected, ms: Date.now() - startedAt };
  }
  if (command.cmd === "report") {
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      received: clients.reduce((sum, client) => sum + client.received, 0),
      perClientMin: Math.min(...clients.map((client) => client.received)),
      duplicates,
      p50Ms: sorted[Math.floor(sorted.length * 0.5)] ?? null,
      p99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? null,
    };
  }
  const startedAt = Date.now();
  for (const client of clients) client.socket.terminate();
  const resubscribed = await openAll(clients.length, true);
  return { ms: Date.now() - startedAt, resubscribed };
}

process.on("message", (command: Command) => {
  handle(command).then(
    (answer) => process.send?.(answer),
    (error: unknown) => process.send?.({ error: String(error) }),
  );
});
process.send?.({ ready: true });
