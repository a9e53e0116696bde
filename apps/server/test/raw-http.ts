import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A plain TCP connection, so a test controls keep-alive and sees resets and parser errors as they are. */
export async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ port, host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Sends raw request bytes and reads one response (Content-Length framed); rejects on a reset or a close without one. */
export function exchange(socket: Socket, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const response = parseResponse(buffer);
      if (response === undefined) return;
      cleanup();
      resolve(response);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`connection closed before a full response: ${JSON.stringify(buffer.toString())}`));
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
    socket.write(request);
  });
}

function parseResponse(buffer: Buffer): RawResponse | undefined {
  const end = buffer.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine = "", ...lines] = buffer.subarray(0, end).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers["content-length"] ?? 0);
  const body = buffer.subarray(end + 4);
  if (body.length < length) return undefined;
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: body.subarray(0, length).toString("utf8"),
  };
}

/** Resolves once the peer closed the socket; "reset" when it did so with ECONNRESET. */
export function waitForClose(socket: Socket): Promise<"closed" | "reset"> {
  return new Promise((resolve) => {
    let isReset = false;
    socket.once("error", (error: NodeJS.ErrnoException) => {
      isReset = error.code === "ECONNRESET";
    });
    if (socket.destroyed) resolve("closed");
    else
      socket.once("close", () => {
        resolve(isReset ? "reset" : "closed");
      });
  });
}
