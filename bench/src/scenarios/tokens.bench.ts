import { createHmac, randomUUID } from "node:crypto";
import { jwtVerify } from "jose";
import {
  createTokenKey,
  createTokenKeys,
  signAccessToken,
  verifyAccessToken,
} from "../../../apps/server/src/modules/auth/index.ts";
import { progress, type Scenario } from "../scenario.ts";

// Access-token verification alone, in this process (ADR 0008): the hand-written check the guard runs on
// every request, jose's jwtVerify with the same requirements, and the HMAC-SHA256 both must compute (the
// floor). Distinct tokens, so nothing is served from a cache.

const TOKENS = 20_000;
const ROUNDS = 10;

const tokens: Scenario = {
  async run() {
    const secret = "bench-token-secret-bench-token-secret-0000";
    const key = createTokenKey(secret);
    const keys = createTokenKeys(secret, "bench-previous-secret-bench-previous-0000");
    const now = new Date();
    const signed = await Promise.all(
      Array.from({ length: TOKENS }, () =>
        signAccessToken(key, { id: randomUUID(), role: "user", sessionId: randomUUID() }, now),
      ),
    );
    progress(`tokens: ${TOKENS} tokens x ${ROUNDS} rounds per method`);

    const handWritten = measureSync(signed, (token) => {
      if (!verifyAccessToken(keys, token, now).ok) throw new Error("hand-written verify refused a token");
    });
    const hmacOnly = measureSync(signed, (token) => {
      const dot = token.lastIndexOf(".");
      createHmac("sha256", key.hmac).update(token.slice(0, dot)).digest();
    });
    const jose = await measureAsync(signed, async (token) => {
      await jwtVerify(token, key.bytes, {
        algorithms: ["HS256"],
        typ: "at+jwt",
        audience: "turnout",
        currentDate: now,
      });
    });
    return {
      scenario: "tokens",
      handWrittenUs: round(handWritten),
      joseUs: round(jose),
      hmacOnlyUs: round(hmacOnly),
      joseOverHandWritten: round(jose / handWritten),
      tokens: TOKENS,
      rounds: ROUNDS,
    };
  },
};

// Microseconds per token: the best of the rounds after one warm-up round, so a neighbour's burst of CPU
// on this shared machine does not count.
function measureSync(all: string[], verify: (token: string) => void): number {
  const perRound: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (const token of all) verify(token);
    const elapsedUs = Number(process.hrtime.bigint() - started) / 1000;
    if (round > 0) perRound.push(elapsedUs / all.length);
  }
  return Math.min(...perRound);
}

async function measureAsync(all: string[], verify: (token: string) => Promise<void>): Promise<number> {
  const perRound: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (const token of all) await verify(token);
    const elapsedUs = Number(process.hrtime.bigint() - started) / 1000;
    if (round > 0) perRound.push(elapsedUs / all.length);
  }
  return Math.min(...perRound);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

export default tokens;
