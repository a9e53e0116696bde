import { describe, expect, it } from "vitest";
import type { ChannelMessage } from "./channel-log.repo.ts";
import { MessageBatch, webSocketFrame } from "./message-batch.ts";

// The bytes the gateway writes to every WebSocket watcher of a channel (ADR 0013, "Fan-out cost").

function message(seq: number, title: string): ChannelMessage {
  return {
    channel: "event:1",
    seq,
    type: "event.updated.v1",
    data: { title },
    occurredAt: "2026-12-06T08:00:00.000Z",
  };
}

// Reads unmasked server frames back: FIN + text opcode, then the payload length in 7, 16 or 64 bits.
function readFrames(bytes: Buffer): unknown[] {
  const frames: unknown[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    expect(bytes[offset]).toBe(0x81);
    let length = (bytes[offset + 1] ?? 0) & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(offset + 2);
      start = offset + 4;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(offset + 2));
      start = offset + 10;
    }
    frames.push(JSON.parse(bytes.subarray(start, start + length).toString("utf8")));
    offset = start + length;
  }
  return frames;
}

describe("MessageBatch", () => {
  it("frames its messages once: the same Buffer on every call, holding each message as API.md writes it", () => {
    const batch = new MessageBatch();
    batch.add(message(7, "short"));
    batch.add(message(8, "x".repeat(300)));
    batch.add(message(9, "ü".repeat(40_000)));
    const bytes = batch.webSocketBytesFrom(0);
    expect(batch.webSocketBytesFrom(0)).toBe(bytes);
    expect(readFrames(bytes)).toEqual(
      [7, 8, 9].map((seq, index) => ({
        type: "message",
        channel: "event:1",
        seq,
        event: {
          type: "event.updated.v1",
          data: { title: ["short", "x".repeat(300), "ü".repeat(40_000)][index] },
        },
      })),
    );
    expect(batch.size).toBe(3);
    expect(batch.lastSeq).toBe(9);
  });

  it("gives a watcher already past part of the batch only the messages after its position", () => {
    const batch = new MessageBatch();
    for (const seq of [3, 5, 6]) batch.add(message(seq, `title ${seq}`));
    expect(batch.indexAfter(0)).toBe(0);
    expect(batch.indexAfter(3)).toBe(1);
    expect(batch.indexAfter(4)).toBe(1);
    expect(batch.indexAfter(6)).toBe(3);
    const later = readFrames(batch.webSocketBytesFrom(batch.indexAfter(4))) as { seq: number }[];
    expect(later.map((frame) => frame.seq)).toEqual([5, 6]);
    expect(batch.webSocketBytesFrom(3)).toHaveLength(0);
    expect(batch.frameAt(1)).toBe(JSON.stringify(readFrames(batch.webSocketBytesFrom(1))[0]));
    expect(batch.kindAt(2)).toEqual({ type: "message", eventType: "event.updated.v1" });
  });

  it("frames a single control frame the same way", () => {
    const frame = JSON.stringify({ type: "pong" });
    expect(readFrames(webSocketFrame(frame))).toEqual([{ type: "pong" }]);
    expect(webSocketFrame(frame)).toHaveLength(2 + frame.length);
  });
});
