// Loader hook of record-loaded-modules.preload.mjs: runs in the loader's thread.
import { appendFileSync } from "node:fs";

let file = "";

/** @param {{ file: string }} data */
export function initialize(data) {
  file = data.file;
}

/** @type {import("node:module").LoadHook} */
export function load(url, context, nextLoad) {
  appendFileSync(file, `${url}\n`);
  return nextLoad(url, context);
}
