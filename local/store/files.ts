import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes a small file so that a crash leaves either the old content or the new, never a torn
 * one: temp file, fsync, rename, fsync of the directory.
 */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = writeTemp(file, data, mode);
  renameSync(tmp, file);
  fsyncDir(file);
}

/**
 * Like `writeFileAtomic`, but only if `file` does not exist yet (hard links are created
 * exclusively), so two processes starting on one state dir agree on one key. Returns false when
 * another writer got there first.
 */
export function createFileExclusive(file: string, data: string | Buffer, mode = 0o600): boolean {
  const tmp = writeTemp(file, data, mode);
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
  fsyncDir(file);
  return true;
}

function writeTemp(file: string, data: string | Buffer, mode: number): string {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function fsyncDir(file: string): void {
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
