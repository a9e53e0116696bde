import type { Readable } from "node:stream";
import { crc32 } from "node:zlib";

/*
 * A streaming writer of "stored" (uncompressed) zip archives: photos are JPEGs already, so deflating them
 * would cost CPU for nothing. Each entry is copied chunk by chunk with its CRC computed on the way; sizes and
 * CRC follow the data in a data descriptor, so nothing is buffered beyond one chunk, whatever the archive's
 * size. Only the central directory (about 100 bytes per entry) is held until the end. Plain zip32: an
 * archive past 4 GiB or 65,535 entries fails instead of writing a corrupt file.
 */

export interface ZipEntry {
  /** Path inside the archive (UTF-8). */
  name: string;
  modifiedAt: Date;
  /** The entry's bytes; null when they are gone by now, and the entry is left out. */
  open(): Promise<Readable | null>;
}

const FLAGS = 0x0808; // bit 3: sizes in a data descriptor; bit 11: UTF-8 names
const VERSION = 20;
const ZIP32_LIMIT = 0xffffffff;

interface Written {
  name: Buffer;
  time: number;
  date: number;
  crc: number;
  size: number;
  offset: number;
}

/** The archive of `entries`, as chunks to pipe to a client. */
export async function* writeZip(entries: AsyncIterable<ZipEntry>): AsyncGenerator<Buffer> {
  const written: Written[] = [];
  let offset = 0;
  for await (const entry of entries) {
    const source = await entry.open();
    if (source === null) continue;
    const name = Buffer.from(entry.name, "utf8");
    const { time, date } = dosDateTime(entry.modifiedAt);
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(VERSION, 4);
    header.writeUInt16LE(FLAGS, 6);
    header.writeUInt16LE(0, 8); // stored
    header.writeUInt16LE(time, 10);
    header.writeUInt16LE(date, 12);
    // CRC and sizes (14..25) stay zero here: the data descriptor carries them.
    header.writeUInt16LE(name.length, 26);
    header.writeUInt16LE(0, 28);
    yield Buffer.concat([header, name]);
    const start = offset;
    offset += header.length + name.length;

    let crc = 0;
    let size = 0;
    for await (const chunk of source) {
      const bytes = chunk as Buffer;
      crc = crc32(bytes, crc);
      size += bytes.length;
      yield bytes;
    }
    offset += size;
    if (offset > ZIP32_LIMIT) throw new Error("The archive passed 4 GiB, the limit of a zip32 file.");
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc, 4);
    descriptor.writeUInt32LE(size, 8);
    descriptor.writeUInt32LE(size, 12);
    yield descriptor;
    offset += descriptor.length;
    written.push({ name, time, date, crc, size, offset: start });
    if (written.length > 0xffff) throw new Error("The archive passed 65,535 entries, the limit of zip32.");
  }

  const directoryOffset = offset;
  let directorySize = 0;
  for (const entry of written) {
    const record = Buffer.alloc(46);
    record.writeUInt32LE(0x02014b50, 0);
    record.writeUInt16LE(VERSION, 4);
    record.writeUInt16LE(VERSION, 6);
    record.writeUInt16LE(FLAGS, 8);
    record.writeUInt16LE(0, 10);
    record.writeUInt16LE(entry.time, 12);
    record.writeUInt16LE(entry.date, 14);
    record.writeUInt32LE(entry.crc, 16);
    record.writeUInt32LE(entry.size, 20);
    record.writeUInt32LE(entry.size, 24);
    record.writeUInt16LE(entry.name.length, 28);
    // Extra and comment lengths, disk number, attributes: zero.
    record.writeUInt32LE(entry.offset, 42);
    yield Buffer.concat([record, entry.name]);
    directorySize += record.length + entry.name.length;
  }
  if (directoryOffset + directorySize > ZIP32_LIMIT) {
    throw new Error("The archive passed 4 GiB, the limit of a zip32 file.");
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(written.length, 8);
  end.writeUInt16LE(written.length, 10);
  end.writeUInt32LE(directorySize, 12);
  end.writeUInt32LE(directoryOffset, 16);
  yield end;
}

/** MS-DOS date and time (two-second resolution, local fields taken as UTC; 1980 at the earliest). */
function dosDateTime(at: Date): { time: number; date: number } {
  const year = Math.max(at.getUTCFullYear(), 1980);
  return {
    time: (at.getUTCHours() << 11) | (at.getUTCMinutes() << 5) | Math.floor(at.getUTCSeconds() / 2),
    date: ((year - 1980) << 9) | ((at.getUTCMonth() + 1) << 5) | at.getUTCDate(),
  };
}
