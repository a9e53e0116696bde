// Preloaded into a server process by tests (NODE_OPTIONS=--import=<this file>, LOADED_MODULES_FILE=<path>):
// appends the URL of every module the ESM loader loads to that file, one a line.
import { register } from "node:module";
import process from "node:process";

register("./record-loaded-modules.hook.mjs", import.meta.url, {
  data: { file: process.env.LOADED_MODULES_FILE },
});
