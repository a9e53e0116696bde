import { measureBaseline } from "../baseline.ts";
import type { Scenario } from "../scenario.ts";

/** The reference alone: req/s and p99 of a bare Fastify route returning a constant JSON body. */
const baseline: Scenario = {
  async run({ durationS, connections }) {
    return { scenario: "baseline", ...(await measureBaseline({ durationS, connections })) };
  },
};

export default baseline;
