import { deleteNatsStream, shouldRunNatsTests, TEST_NATS_URL } from "../../../test/nats.ts";
import { describeBusContract } from "../../../test/bus.contract.ts";
import { createMemoryBus } from "./memory-bus.ts";
import { connectNatsBus } from "./nats-bus.ts";

describeBusContract("memory", () => Promise.resolve(createMemoryBus()));

// Without NATS the contract still registers, as skipped tests, so the gap shows in the report.
describeBusContract("nats", () => connectNatsBus(TEST_NATS_URL, { name: "turnout-bus-contract" }), {
  deleteStream: deleteNatsStream,
  skip: !(await shouldRunNatsTests("NATS bus contract")),
});
