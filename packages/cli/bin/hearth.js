#!/usr/bin/env node
// A small young generation (1 MB semi-spaces instead of 16) keeps an idle site's memory low;
// it must be set before the heap grows, so it comes first.
import v8 from 'node:v8';
v8.setFlagsFromString('--max-semi-space-size=1');

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
