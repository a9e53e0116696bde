import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// In development Vite serves the app and forwards API and probe calls to `npm run dev` on port 3000.
const server = "http://localhost:3000";

export default defineConfig({
  plugins: [react()],
  server: { proxy: { "/api": server, "/readyz": server } },
});
