/*
 * When the collector answers 429 (ADR 0015): the stream's backlog measured in time, not only in batches. Each
 * collector samples the stream every half second: the batches waiting and the batches ever appended (by every
 * collector). Between two samples the processors drained what was appended minus what the backlog grew; the
 * rate they drain at, smoothed, turns the waiting batches into the seconds a new batch would wait before it is
 * loaded. Past `maxWaitMs` the collector refuses new batches, so the time from a 202 to the row being
 * queryable stays bounded by about that plus one load, whatever the machine's rate. `maxBatches` stays as a hard
 * cap, and below `floorBatches` (the batches the processors hold while they load them) nothing is refused, so a
 * processor that is starting, or idle, or has not drained yet, is not mistaken for a stalled one.
 */

export interface BacklogSample {
  /** Batches in the stream (taken by a processor but not yet acknowledged included). */
  waiting: number;
  /** Batches ever appended to the stream: a counter that only grows. */
  appended: number;
  /** When the sample was taken (ms). */
  at: number;
}

export interface BacklogLimits {
  maxBatches: number;
  maxWaitMs: number;
  floorBatches: number;
}

/** The weight of the newest interval in the smoothed drain rate. */
const SMOOTHING = 0.3;

export interface Backlog {
  observe(sample: BacklogSample): void;
  /** Batches waiting, as last sampled. */
  waiting(): number;
  /** Batches per second the processors drained, smoothed. */
  drainPerSecond(): number;
  /** True when a new batch should be refused (429). */
  isBackedUp(): boolean;
}

export function createBacklog(limits: BacklogLimits): Backlog {
  let last: BacklogSample | undefined;
  let rate = 0;
  return {
    observe(sample) {
      if (last !== undefined && sample.at > last.at && sample.appended >= last.appended) {
        const drained = sample.appended - last.appended - (sample.waiting - last.waiting);
        const perSecond = Math.max(0, (drained * 1000) / (sample.at - last.at));
        rate = rate === 0 ? perSecond : rate + SMOOTHING * (perSecond - rate);
      }
      last = sample;
    },
    waiting: () => last?.waiting ?? 0,
    drainPerSecond: () => rate,
    isBackedUp() {
      const waiting = last?.waiting ?? 0;
      if (waiting > limits.maxBatches) return true;
      if (waiting <= limits.floorBatches) return false;
      return waiting > (rate * limits.maxWaitMs) / 1000;
    },
  };
}
