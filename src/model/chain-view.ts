/** An observed disk as the planner reads it, in the terms `show` prints it. */
import type { LayerRef } from './layer.js';
import type { ProblemCode } from './codes.js';

/** Something that makes lvchain leave a disk alone. */
export interface Problem {
  code: ProblemCode;
  message: string;
}

export interface ChainView {
  /** The chain's layers, oldest first; undefined when the top is missing or a link does not resolve. */
  chain: LayerRef[] | undefined;
  problems: Problem[];
  /** False when headers were not read (inactive LVs): the chain comes from names and tags. */
  verified: boolean;
}
