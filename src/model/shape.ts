/** The rows of a disk's expected shape, one per layer in key order. */
import { z } from 'zod';

/** [key, metadata, formatted, backing ("?" when unknown), virtual size, capacity] */
export const shapeRowSchema = z.tuple([
  z.string(),
  z.string().nullable(),
  z.boolean(),
  z.string().nullable(),
  z.number().nullable(),
  z.number().nullable(),
]);

export const shapeRowsSchema = z.array(shapeRowSchema);

export type ShapeRow = z.infer<typeof shapeRowSchema>;
