import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The API serves dist/ at "/" (SPA fallback) on the same origin as /api/v1.
// `npm run dev` proxies /api to a running annotation-api (ANNOTARY_URL, default :8080).
const apiTarget = process.env.ANNOTARY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    proxy: { "/api": { target: apiTarget, changeOrigin: true } },
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
});
