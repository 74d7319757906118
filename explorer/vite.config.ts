import { defineConfig } from "vite";

// The page is served by the idgraph app at /explorer/ (app/web/routes.py); the build goes
// into the Python package so that `pip install` alone serves it.
export default defineConfig({
  base: "/explorer/",
  build: {
    outDir: "../app/web/static",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1200,
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev`: proxy the API of an `idgraph serve` on port 8000
    proxy: { "/graphql": "http://127.0.0.1:8000" },
  },
});
