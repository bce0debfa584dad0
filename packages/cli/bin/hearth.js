#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=32768 node --max-semi-space-size=2 --heap-growing-percent=20
// The shebang's settings keep an idle site small (see scripts/runtime.mjs); they apply when this
// file runs as a command (npx hearth, a global install), not under `node bin/hearth.js`.

// The bundle (npm run build) when present; the compiled modules otherwise.
const { main } = await import('../dist/hearth.bundle.mjs').catch((error) => {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  return import('../dist/main.js');
});

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`hearth: ${error?.message ?? error}`);
    process.exitCode = 1;
  },
);
