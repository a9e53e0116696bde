import type { ChannelMessage } from "./channel-log.repo.ts";

/*
 * Channel messages on their way to every watcher of a channel (ADR 0013, "Fan-out cost"). The hub collects what
 * one turn of the channel accepted into a batch; each message becomes its JSON frame once, and the whole batch
 * becomes WebSocket bytes once. Every watcher that saw none of the batch gets that same Buffer, so a delivery
 * allocates nothing of its own, and messages that met in one turn reach a socket in one write.
 */

export type FrameKind = { type: "message"; eventType: string } | { type: "subscribed" } | { type: "reset" };

export class MessageBatch {
  private readonly seqs: number[] = [];
  private readonly frames: string[] = [];
  private readonly kinds: FrameKind[] = [];
  private wire: Buffer | null = null;
  // Where each message's WebSocket frame starts in `wire`.
  private readonly offsets: number[] = [];

  add(message: ChannelMessage): void {
    this.seqs.push(message.seq);
    this.frames.push(messageFrame(message));
    this.kinds.push({ type: "message", eventType: message.type });
    this.wire = null;
  }

  get size(): number {
    return this.seqs.length;
  }

  /** The position of the last message (0 when empty). */
  get lastSeq(): number {
    return this.seqs.at(-1) ?? 0;
  }

  /** The index of the first message after position `cursor` (`size` when there is none). */
  indexAfter(cursor: number): number {
    let index = 0;
    while (index < this.seqs.length && (this.seqs[index] ?? 0) <= cursor) index++;
    return index;
  }

  seqAt(index: number): number {
    return this.seqs[index] ?? 0;
  }

  frameAt(index: number): string {
    return this.frames[index] ?? "";
  }

  kindAt(index: number): FrameKind {
    return this.kinds[index] ?? { type: "message", eventType: "" };
  }

  /**
   * The messages from `index` on as WebSocket frames in one buffer. From 0 it is the same Buffer on every call;
   * from further on, a view into it (only a watcher that was ahead of the batch's start asks for that).
   */
  webSocketBytesFrom(index: number): Buffer {
    if (this.wire === null) this.wire = this.encode();
    return index === 0 ? this.wire : this.wire.subarray(this.offsets[index] ?? this.wire.length);
  }

  private encode(): Buffer {
    const payloads = this.frames.map((frame) => Buffer.from(frame, "utf8"));
    const total = payloads.reduce((sum, payload) => sum + headerLength(payload.length) + payload.length, 0);
    const bytes = Buffer.allocUnsafe(total);
    this.offsets.length = 0;
    let offset = 0;
    for (const payload of payloads) {
      this.offsets.push(offset);
      offset = writeFrame(bytes, offset, payload);
    }
    return bytes;
  }
}

/** `frame` as one unmasked WebSocket text frame (what a server sends). */
export function webSocketFrame(frame: string): Buffer {
  const payload = Buffer.from(frame, "utf8");
  const bytes = Buffer.allocUnsafe(headerLength(payload.length) + payload.length);
  writeFrame(bytes, 0, payload);
  return bytes;
}

// RFC 6455 5.2: FIN and the text opcode, the payload length in 7, 7+16 or 7+64 bits, no mask from a server.
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

function writeFrame(bytes: Buffer, offset: number, payload: Buffer): number {
  const length = payload.length;
  bytes[offset] = 0x81;
  if (length < 126) {
    bytes[offset + 1] = length;
  } else if (length < 65_536) {
    bytes[offset + 1] = 126;
    bytes.writeUInt16BE(length, offset + 2);
  } else {
    bytes[offset + 1] = 127;
    bytes.writeBigUInt64BE(BigInt(length), offset + 2);
  }
  const start = offset + headerLength(length);
  payload.copy(bytes, start);
  return start + length;
}

export function messageFrame(message: ChannelMessage): string {
  return JSON.stringify({
    type: "message",
    channel: message.channel,
    seq: message.seq,
    event: { type: message.type, data: message.data },
  });
}
