import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * One event-loop delay monitor per process. The loop is shared by every site a process serves (a
 * hosting service runs many), and the histogram costs a few hundred KB once it records, so the
 * sites share one: the first to start enables it, the last to stop disables it.
 */
let monitor: IntervalHistogram | undefined;
let holders = 0;

export function acquireLoopDelay(): IntervalHistogram {
  monitor ??= monitorEventLoopDelay({ resolution: 10 });
  if (holders++ === 0) monitor.enable();
  return monitor;
}

export function releaseLoopDelay(): void {
  if (holders > 0 && --holders === 0) monitor?.disable();
}
