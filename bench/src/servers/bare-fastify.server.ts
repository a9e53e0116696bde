// The physical reference: the cheapest route Fastify can serve, with nothing of ours in the path.
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.get("/", () => ({ hello: "world" }));
await app.listen({ host: "127.0.0.1", port: 0 });

const address = app.server.address();
if (address === null || typeof address === "string") throw new Error("expected a TCP address");
process.send?.({ port: address.port });

const close = () => void app.close().finally(() => process.exit(0));
process.once("SIGTERM", close);
// The parent's IPC channel closes when it dies, even by SIGKILL: never outlive the bench.
process.once("disconnect", close);
