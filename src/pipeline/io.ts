/**
 * What every command gets from the CLI: where to write, whether to colour, whether a person
 * is there to answer, and the clock. Nothing below cli/ reads process state directly.
 */
import type { Style } from '../render/style.js';
import { makeStyle } from '../render/style.js';
import type { CommandEvent } from '../exec/executor.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  style: Style;
  /** stdin and stdout are terminals: prompts and progress bars are possible. */
  interactive: boolean;
  /**
   * On a terminal: a status line redrawn in place (undefined clears it); the next out or err
   * line replaces it. Absent where output is a log, which gets whole lines instead.
   */
  progress?: (line: string | undefined) => void;
  /** TF_IN_AUTOMATION / LVCHAIN_IN_AUTOMATION: no "run this next" hints. */
  automation: boolean;
  clock: () => number;
  ask(question: string): Promise<string>;
  /** Where --command-log sends command events, if given. */
  onCommand?: (e: CommandEvent) => void;
  /** CI facts from the environment (GITHUB_STEP_SUMMARY, the run's URL), read by cli/io.ts. */
  ci?: CiContext;
}

export interface CiContext {
  /** GitHub's job summary file: plan and apply append their Markdown summary to it. */
  stepSummary?: string;
  /** The CI run whose log holds the full output, linked from a truncated PR comment. */
  runUrl?: string;
}

export interface GlobalOptions {
  config: string;
  color: boolean;
  commandLog?: string;
}

export function styleFor(color: boolean): Style {
  return makeStyle(color);
}
