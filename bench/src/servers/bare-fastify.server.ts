// The physical reference: the cheapest routes Fastify can serve, with nothing of ours in the path. `/` is the
// baseline of the request-rate scenarios; the join route is the floor of the joins burst (the same requests on
// the same open connections, answered with a constant of a join answer's size).
import Fastify from "fastify";

const app = Fastify({ logger: false });
app.get("/", () => ({ hello: "world" }));
app.get("/healthz", () => ({ status: "ok" }));
app.post("/api/events/:id/join", (_request, reply) =>
  reply.code(409).send({ error: { code: "event.full", message: "The event and its waitlist are full." } }),
);
await app.listen({ host: "127.0.0.1", port: 0 });

const address = app.server.address();
if (address === null || typeof address === "string") throw new Error("expected a TCP address");
process.send?.({ port: address.port });

const close = () => void app.close().finally(() => process.exit(0));
process.once("SIGTERM", close);
// The parent's IPC channel closes when it dies, even by SIGKILL: never outlive the bench.
process.once("disconnect", close);
