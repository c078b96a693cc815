/** What cli/index.ts gives each command's file to run its pipeline function. */
import type { GlobalOptions, Io } from '../pipeline/io.js';

export interface Wiring {
  /** Runs a pipeline function with the global options and an Io; its result is the exit code. */
  run(fn: (g: GlobalOptions, io: Io) => Promise<number>): Promise<void>;
  /** For the commands that change storage: aborted by Ctrl-C, they stop after the step in flight. */
  interruptSignal(io: Io): AbortSignal;
}
