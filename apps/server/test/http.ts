import { errorBodySchema } from "@turnout/contracts";
import type { LightMyRequestResponse } from "fastify";
import type { TestApp } from "./app.ts";

let ipCounter = 0;

/** A client address not handed out before, so the per-address limits of one request never reach another. */
export function nextIp(): string {
  ipCounter++;
  return `10.9.${Math.floor(ipCounter / 250)}.${(ipCounter % 250) + 1}`;
}

export interface PostOptions {
  /** Client address; a fresh one from nextIp() when omitted. */
  ip?: string;
  headers?: Record<string, string>;
}

/** A JSON POST helper for the app `getApp` returns at call time (so it can be made before beforeAll runs). */
export function createPost(getApp: () => TestApp) {
  return (url: string, payload: object, options: PostOptions = {}) =>
    getApp().app.inject({
      method: "POST",
      url,
      payload,
      remoteAddress: options.ip ?? nextIp(),
      headers: options.headers,
    });
}

/** The `error.code` of an error response; throws when the body is not the error shape. */
export function errorCode(response: LightMyRequestResponse): string {
  return errorBodySchema.parse(response.json()).error.code;
}

/** The refresh-token cookie a response sets, if any. */
export function refreshCookie(response: LightMyRequestResponse) {
  return response.cookies.find((cookie) => cookie.name === "turnout_refresh");
}
