import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

/** The NATS the scenarios that need a bus run on (BENCH_NATS_URL, default the local one). */
export const BENCH_NATS_URL = process.env.BENCH_NATS_URL ?? "nats://127.0.0.1:4222";

/** Deletes a scenario's own streams; one that is not there is no error. */
export async function deleteStreams(names: string[]): Promise<void> {
  const nc = await connect({ servers: BENCH_NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    for (const name of names) await jsm.streams.delete(name).catch(() => false);
  } finally {
    await nc.close();
  }
}
