/** Facts about QEMU versions that decide what the live engine may ask of them. */
/**
 * Before QEMU 8.1, copy-on-read rounds to clusters, not subclusters, and a stream into an
 * image with extended L2 entries hits an assertion that kills QEMU (upstream fix "block: add
 * subcluster_size field to BlockDriverInfo", July 2023, in 8.1). Measured here on 7.2.
 */
export function streamsIntoSubclusters(qemu: string): boolean {
  const [major = 0, minor = 0] = qemu.split('.').map(Number);
  return major > 8 || (major === 8 && minor >= 1);
}
