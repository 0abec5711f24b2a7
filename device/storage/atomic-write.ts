// Crash-safe file replacement: write a temporary file next to the target, fsync it, rename it
// over the target and fsync the directory, so a reader sees either the old or the new contents,
// never a torn file, even after a power cut.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, link, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type AtomicWriteOptions = {
  /** File mode the file is created with (before umask). Default 0o600. */
  mode?: number;
  /** When false, fail with EEXIST instead of replacing an existing file. Default true. */
  overwrite?: boolean;
};

export async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Some filesystems cannot fsync a directory; the rename itself is still atomic there.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}

export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const { mode = 0o600, overwrite = true } = options;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx' creates the file with its final mode, so a secret is never readable by others, not even briefly.
  const handle = await open(temp, 'wx', mode);
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (overwrite) {
      await rename(temp, path);
    } else {
      // link() refuses to replace an existing file, which rename() would silently do.
      await link(temp, path);
      await unlink(temp);
    }
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dir);
}

export const writeJsonAtomic = (path: string, value: unknown, options?: AtomicWriteOptions): Promise<void> =>
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, options);

/** Reads a file, or returns undefined when it does not exist. */
export async function readFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const TEMP = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Removes temporary files that writeFileAtomic left behind when its process died mid-write
 * (kill -9, power cut); files of processes still running are left alone. Returns how many.
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m || Number(m[2]) === process.pid || alive(Number(m[2]))) continue;
    await unlink(join(dir, name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}
