import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig, type Plugin } from "vite";

// In development Vite serves the app and forwards API and probe calls to `npm run dev` on port 3000.
const server = "http://localhost:3000";

export default defineConfig({
  plugins: [react(), tailwindcss(), precompress()],
  server: { proxy: { "/api": { target: server, ws: true }, "/readyz": server } },
  build: { assetsInlineLimit: 0 },
});

/**
 * Writes a .br and a .gz beside every text file of the build, so the server sends them compressed without
 * compressing on each request (@fastify/static's preCompressed option picks the one the browser accepts).
 */
function precompress(): Plugin {
  let outDir = "dist";
  return {
    name: "turnout-precompress",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    async closeBundle() {
      const files = await readdir(outDir, { recursive: true, withFileTypes: true });
      for (const file of files) {
        if (!file.isFile() || !/\.(js|css|html|svg|json|txt)$/.test(file.name)) continue;
        const path = join(file.parentPath, file.name);
        const bytes = await readFile(path);
        await writeFile(`${path}.gz`, gzipSync(bytes, { level: 9 }));
        await writeFile(
          `${path}.br`,
          brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}
