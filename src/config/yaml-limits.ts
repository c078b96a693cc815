/** Bounds on a config document, checked before anything recurses over it. */

/** Maps and lists nest at most this deep; a valid config needs 6 levels. */
export const MAX_NESTING = 32;

/** Aliases may expand the document to at most this many values (an "alias bomb" guard). */
export const MAX_EXPANDED_VALUES = 100_000;
