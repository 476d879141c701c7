import { defineConfig } from "vite";

// Built into the Python package that serves it (api/console.py), under /console.
export default defineConfig({
  base: "/console/",
  build: {
    outDir: "../api/console_dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
  },
  server: {
    port: 8610,
    // `npm run dev` against a service on 127.0.0.1:8600 (`stockpilot serve --demo --port 8600`)
    proxy: Object.fromEntries(
      ["/v1", "/threads", "/runs", "/healthz", "/info"].map((p) => [p, "http://127.0.0.1:8600"]),
    ),
  },
});
