import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// The build goes into the Python package, which `hexa serve` serves at `/` and `/assets/*`.
// `npm run dev` proxies the API and the notebooks to a running `hexa serve` (HEXA_DEV_API).
const api = process.env.HEXA_DEV_API ?? 'http://127.0.0.1:8765'

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../src/hexa/web',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      '/api': { target: api, ws: true, changeOrigin: false },
      '/nb': { target: api, ws: true, changeOrigin: false },
      '/create-notebook': { target: api },
    },
  },
})
