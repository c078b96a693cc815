/** Config defaults and the size and name limits a config is checked against. */

export const DEFAULTS = {
  vgReserve: '5%',
  dirReserve: '0B',
  maxChainDepth: 32,
  maxDeletesPerRun: 20,
  /** `check` is late at 1.5 schedule periods and critical at 3 (issue 4 §6). */
  checkWarnPeriods: 1.5,
  checkCritPeriods: 3,
} as const;

/**
 * The largest virtual size of a qcow2 image made with QCOW2_OPTIONS: the L1 table holds at
 * most 4Mi entries (QCOW_MAX_L1_SIZE, 32MiB), each mapping one L2 table of 128KiB / 16 B
 * extended entries × 128KiB clusters = 1GiB. Measured: `qemu-img create` accepts 4096T and
 * refuses 4097T with "The image size is too large for file format 'qcow2'".
 */
export const MAX_DISK_SIZE = 4 * 1024 ** 5;

/** LVM's limit on LV names; `snap_<disk>_<snap>.qcow2` must fit. */
export const LV_NAME_MAX = 127;
export const MIN_DISK_SIZE = 1024 * 1024;
