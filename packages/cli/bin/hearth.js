#!/usr/bin/env node
import { main } from '../dist/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`hearth: ${error?.message ?? error}`);
    process.exitCode = 1;
  },
);
