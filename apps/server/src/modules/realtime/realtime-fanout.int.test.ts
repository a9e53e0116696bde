import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createPublished } from "../../../test/events.support.ts";
import { bearer, createUser, type CreatedUser } from "../../../test/factories.ts";
import { TEST_SECRETS } from "../../../test/app.ts";
import { type LiveApp, startLiveApp, uniqueStreams } from "../../../test/realtime.support.ts";
import { createTokenKeys } from "../auth/index.ts";
import { createChannelAccess } from "./channel-access.ts";
import { createChannelHub } from "./channel-hub.ts";
import { appendChannelMessages } from "./channel-log.repo.ts";
import { createRealtimeMetrics } from "./realtime-metrics.ts";
import { createRealtimeSession, type SessionOutput } from "./realtime-session.ts";

// The fan-out (ADR 0013, "Fan-out cost"): a channel message is framed once, and every WebSocket connection that
// watches the channel is handed the very same bytes; messages that meet in one turn of the channel go out
// together. Connections without ready-made WebSocket bytes (SSE) get the same frames one by one. The heartbeat's
// pings are shared bytes as well.

const streams = uniqueStreams();
let live: LiveApp;
let organizer: CreatedUser;

beforeAll(async () => {
  live = await startLiveApp({ ...streams, env: { REALTIME_HEARTBEAT_MS: "200" } });
  organizer = await createUser(live.t);
});
afterAll(() => live.close());

function channelSeq(channel: string): Promise<number> {
  return live.t.deps.db
    .selectFrom("realtime_channels")
    .select("last_seq")
    .where("channel", "=", channel)
    .executeTakeFirst()
    .then((row) => row?.last_seq ?? 0);
}

interface Recorded {
  output: SessionOutput;
  singles: string[];
  bytes: Buffer[];
}

function webSocketOutput(): Recorded {
  const recorded: Recorded = {
    singles: [],
    bytes: [],
    output: {
      deliver: (frame) => recorded.singles.push(frame),
      refuse: (code) => recorded.singles.push(`refused ${code}`),
      deliverWebSocketBytes: (bytes) => recorded.bytes.push(bytes),
    },
  };
  return recorded;
}

function frameByFrameOutput(): Recorded {
  const recorded: Recorded = {
    singles: [],
    bytes: [],
    output: {
      deliver: (frame) => recorded.singles.push(frame),
      refuse: (code) => recorded.singles.push(`refused ${code}`),
    },
  };
  return recorded;
}

interface MessageFrame {
  type: string;
  seq?: number;
  event?: { data: { event: { title: string } } };
}

// Server frames back from bytes: FIN + text opcode, a 7- or 16-bit length (these payloads are small).
function readFrames(bytes: Buffer): MessageFrame[] {
  const frames: MessageFrame[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    expect(bytes[offset]).toBe(0x81);
    const short = (bytes[offset + 1] ?? 0) & 0x7f;
    const length = short === 126 ? bytes.readUInt16BE(offset + 2) : short;
    const start = offset + (short === 126 ? 4 : 2);
    frames.push(JSON.parse(bytes.subarray(start, start + length).toString("utf8")) as MessageFrame);
    offset = start + length;
  }
  return frames;
}

describe("fan-out", () => {
  it("hands every WebSocket watcher the same Buffer, with the messages of one turn in it, in order", async () => {
    const event = await createPublished(live.t, organizer);
    const channel = `event:${event.id}`;
    const hub = createChannelHub(live.t.deps, {
      liveSubjectPrefix: streams.subjectPrefix,
      snapshotIntervalMs: 100,
      metrics: createRealtimeMetrics(live.t.deps.metrics.registry),
    });
    const sessionDeps = {
      hub,
      access: createChannelAccess(live.t.deps),
      keys: createTokenKeys(TEST_SECRETS.TOKEN_SECRET),
      currentUsers: live.t.app.currentUsers,
      clock: live.t.deps.clock,
      metrics: createRealtimeMetrics(live.t.deps.metrics.registry),
      maxSubscriptions: 10,
    };
    // The event.published.v1 message is the channel's first: let the sequencer place it before the others.
    await expect.poll(() => channelSeq(channel)).toBe(1);
    const outputs = [webSocketOutput(), webSocketOutput(), webSocketOutput(), frameByFrameOutput()];
    const sessions = outputs.map((recorded) => createRealtimeSession(sessionDeps, recorded.output));
    for (const session of sessions) expect(await session.subscribe(channel)).toBe("subscribed");
    const start = sessions[0]?.positions().get(channel) ?? -1;
    for (const recorded of outputs)
      expect(recorded.singles).toEqual([JSON.stringify({ type: "subscribed", channel, seq: start })]);

    // Two messages the hub has not heard of live: a client resuming from the second makes the hub take both from
    // the channel log in one turn, and they go to the watchers as one batch.
    await live.t.deps.db.transaction().execute(async (trx) => {
      for (const title of ["First of two", "Second of two"])
        await appendChannelMessages(
          trx,
          [channel],
          {
            outboxId: 0,
            type: "event.updated.v1",
            data: { event: { id: event.id, title } },
            occurredAt: new Date().toISOString(),
          },
          1000,
        );
    });
    const resuming = webSocketOutput();
    const late = createRealtimeSession(sessionDeps, resuming.output);
    expect(await late.subscribe(channel, start + 2)).toBe("subscribed");
    expect(resuming.singles).toEqual([JSON.stringify({ type: "subscribed", channel, seq: start + 2 })]);
    expect(resuming.bytes).toEqual([]);

    const [first, ...others] = outputs.slice(0, 3);
    expect(first?.bytes).toHaveLength(1);
    const batch = first?.bytes[0];
    for (const recorded of others) {
      expect(recorded.bytes).toHaveLength(1);
      expect(recorded.bytes[0]).toBe(batch);
    }
    const frames = readFrames(batch ?? Buffer.alloc(0));
    expect(frames.map((frame) => [frame.type, frame.seq, frame.event?.data.event.title])).toEqual([
      ["message", start + 1, "First of two"],
      ["message", start + 2, "Second of two"],
    ]);
    // The connection without WebSocket bytes got the same two frames, one by one.
    expect(outputs[3]?.singles.slice(1).map((frame) => JSON.parse(frame) as unknown)).toEqual(frames);
    expect(sessions.map((session) => session.positions().get(channel))).toEqual([
      start + 2,
      start + 2,
      start + 2,
      start + 2,
    ]);

    // A live edit through the real path: one more shared Buffer, now for the late one too.
    const response = await live.t.app.inject({
      method: "PATCH",
      url: `/api/events/${event.id}`,
      headers: bearer(organizer),
      payload: { title: "Live edit" },
    });
    expect(response.statusCode).toBe(200);
    await expect.poll(() => resuming.bytes.length).toBe(1);
    const liveBytes = resuming.bytes[0];
    for (const recorded of outputs.slice(0, 3)) expect(recorded.bytes[1]).toBe(liveBytes);
    expect(
      readFrames(liveBytes ?? Buffer.alloc(0)).map((frame) => [frame.seq, frame.event?.data.event.title]),
    ).toEqual([[start + 3, "Live edit"]]);

    for (const session of [...sessions, late]) session.close();
    await hub.close();
  });
});

describe("heartbeat", () => {
  it("pings every connection; one that answers stays, one that does not is cut", async () => {
    const open = (autoPong: boolean) =>
      new Promise<{ socket: WebSocket; pings: number[]; closed: Promise<number> }>((resolve, reject) => {
        const socket = new WebSocket(live.wsUrl, { autoPong });
        const pings: number[] = [];
        socket.on("ping", (data: Buffer) => pings.push(data.length));
        const closed = new Promise<number>((done) => socket.once("close", done));
        socket.once("open", () => {
          resolve({ socket, pings, closed });
        });
        socket.once("error", reject);
      });
    const answering = await open(true);
    const silent = await open(false);
    // Silent: pinged, no pong; at the next sweep it is cut (no close frame: 1006).
    expect(await silent.closed).toBe(1006);
    expect(silent.pings.length).toBeGreaterThanOrEqual(1);
    expect(silent.pings.every((length) => length === 0)).toBe(true);
    await expect.poll(() => answering.pings.length).toBeGreaterThanOrEqual(3);
    expect(answering.socket.readyState).toBe(WebSocket.OPEN);
    answering.socket.close();
  });
});
