// Builds the SDK three ways into dist/: ESM for bundlers, the React hooks as ESM (React left to the page),
// and one minified script-tag file that sets window.turnout. Only types come from @turnout/contracts.
import { build, type BuildOptions } from "esbuild";

const common: BuildOptions = { bundle: true, target: "es2020", platform: "browser", logLevel: "warning" };
await Promise.all([
  build({ ...common, entryPoints: ["src/index.ts"], format: "esm", outfile: "dist/tracker.js" }),
  build({
    ...common,
    entryPoints: ["src/react.ts"],
    format: "esm",
    outfile: "dist/react.js",
    external: ["react"],
  }),
  build({
    ...common,
    entryPoints: ["src/script-tag.ts"],
    format: "iife",
    minify: true,
    outfile: "dist/tracker.min.js",
  }),
]);
