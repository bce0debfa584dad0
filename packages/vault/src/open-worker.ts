import { parentPort, workerData } from 'node:worker_threads';
import type { DeviceSecrets } from '@hearth/protocol';
import { openJob, type OpenJob } from './dm-open.js';

/** A worker thread of DmOpener: opens the DMs it is sent with the device secrets it was started with. */
const device = (workerData as { device: DeviceSecrets }).device;
parentPort!.on('message', ({ id, jobs }: { id: number; jobs: OpenJob[] }) => {
  try {
    parentPort!.postMessage({ id, results: jobs.map((job) => openJob(job, device)) });
  } catch (error) {
    parentPort!.postMessage({ id, failure: (error as Error).message });
  }
});
