import { createServer, request, type IncomingMessage } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import type { Duplex } from "node:stream";

/**
 * A small load balancer in front of the cluster, like the Ingress (deploy/k8s/base/ingress.yaml): the
 * collector's paths go to the collector, everything else (HTTP and WebSocket upgrades) round-robin to the
 * api+realtime nodes. It counts what each backend port served, so a test can show both nodes took part.
 */
export interface RoundRobinProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Requests and upgrades per backend port. */
  served: Map<number, number>;
  close(): Promise<void>;
}

export async function startProxy(options: { nodes: number[]; collector: number }): Promise<RoundRobinProxy> {
  let turn = 0;
  const served = new Map<number, number>();
  const pick = (path: string | undefined): number => {
    const isCollector = path?.startsWith("/api/collect") === true || path?.startsWith("/v1/") === true;
    const port = isCollector ? options.collector : (options.nodes[turn++ % options.nodes.length] ?? 0);
    served.set(port, (served.get(port) ?? 0) + 1);
    return port;
  };
  const tunnels = new Set<Duplex>();

  const server = createServer((incoming, outgoing) => {
    const upstream = request(
      {
        host: "127.0.0.1",
        port: pick(incoming.url),
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on("error", () => {
      if (outgoing.headersSent) outgoing.destroy();
      else outgoing.writeHead(502, { "content-type": "text/plain" }).end("backend unreachable");
    });
    incoming.pipe(upstream);
  });

  // A WebSocket upgrade: replay the request head to the chosen node, then splice the two sockets.
  server.on("upgrade", (incoming: IncomingMessage, client: Duplex, head: Buffer) => {
    const backend: Socket = connect(pick(incoming.url), "127.0.0.1", () => {
      const lines = [`${incoming.method ?? "GET"} ${incoming.url ?? "/"} HTTP/${incoming.httpVersion}`];
      for (let index = 0; index < incoming.rawHeaders.length; index += 2) {
        lines.push(`${incoming.rawHeaders[index] ?? ""}: ${incoming.rawHeaders[index + 1] ?? ""}`);
      }
      backend.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) backend.write(head);
      backend.pipe(client);
      client.pipe(backend);
    });
    tunnels.add(client);
    tunnels.add(backend);
    const end = () => {
      client.destroy();
      backend.destroy();
      tunnels.delete(client);
      tunnels.delete(backend);
    };
    for (const side of [client, backend]) side.on("error", end).on("close", end);
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: async () => {
      for (const tunnel of tunnels) tunnel.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}
