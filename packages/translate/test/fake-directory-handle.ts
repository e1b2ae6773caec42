import type { DirectoryHandleLike, FileHandleLike, WritableLike } from '../src/index.js';

const domError = (name: string, message: string) => Object.assign(new Error(message), { name });

/**
 * An in-memory stand-in for the File System API's `FileSystemDirectoryHandle`, with the behaviours the store
 * relies on: `NotFoundError` for a missing entry, `TypeMismatchError` for a file where a folder is asked for (and
 * the reverse), writes committed only on `close()`, and `move()` only when `withMove` (Chromium has it, others
 * not). `failWrites` makes every `write()` fail after that many calls (a full disk).
 */
export class FakeDirectory implements DirectoryHandleLike {
  readonly kind = 'directory' as const;
  readonly children = new Map<string, FakeDirectory | FakeFile>();
  move?: (parent: DirectoryHandleLike, name: string) => Promise<void>;

  constructor(
    public name: string,
    readonly settings: { withMove: boolean; failWrites?: number } = { withMove: true },
    public parent?: FakeDirectory,
  ) {
    if (settings.withMove) {
      this.move = async (parent, name) => {
        const target = parent as FakeDirectory;
        if (target.children.has(name)) throw domError('InvalidModificationError', `${name} exists`);
        this.parent?.children.delete(this.name);
        this.name = name;
        this.parent = target;
        target.children.set(name, this);
      };
    }
  }

  async getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<DirectoryHandleLike> {
    const entry = this.children.get(name);
    if (entry instanceof FakeFile) throw domError('TypeMismatchError', `${name} is a file`);
    if (entry) return entry;
    if (!options?.create) throw domError('NotFoundError', `${name} not found`);
    const folder = new FakeDirectory(name, this.settings, this);
    this.children.set(name, folder);
    return folder;
  }

  async getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike> {
    const entry = this.children.get(name);
    if (entry instanceof FakeDirectory) throw domError('TypeMismatchError', `${name} is a folder`);
    if (entry) return entry;
    if (!options?.create) throw domError('NotFoundError', `${name} not found`);
    const file = new FakeFile(name, this.settings);
    this.children.set(name, file);
    return file;
  }

  async removeEntry(name: string, options?: { recursive?: boolean }): Promise<void> {
    const entry = this.children.get(name);
    if (!entry) throw domError('NotFoundError', `${name} not found`);
    if (entry instanceof FakeDirectory && entry.children.size > 0 && !options?.recursive) {
      throw domError('InvalidModificationError', `${name} is not empty`);
    }
    this.children.delete(name);
  }

  async *entries(): AsyncIterable<[string, DirectoryHandleLike | FileHandleLike]> {
    for (const entry of [...this.children]) yield entry;
  }

  /** Every name below this folder, folders included, as paths. */
  names(prefix = ''): string[] {
    return [...this.children].flatMap(([name, entry]) => [
      prefix + name,
      ...(entry instanceof FakeDirectory ? entry.names(`${prefix}${name}/`) : []),
    ]);
  }
}

class FakeFile implements FileHandleLike {
  readonly kind = 'file' as const;
  bytes = new Uint8Array();

  constructor(
    readonly name: string,
    readonly settings: { failWrites?: number },
  ) {}

  async getFile(): Promise<Blob> {
    return new Blob([this.bytes]);
  }

  async createWritable(): Promise<WritableLike> {
    let pending = new Uint8Array();
    return {
      write: async (data) => {
        if (this.settings.failWrites !== undefined && this.settings.failWrites-- <= 0) {
          throw domError('QuotaExceededError', 'the quota has been exceeded');
        }
        pending = Uint8Array.from([...pending, ...data]);
      },
      close: async () => {
        this.bytes = pending;
      },
      abort: async () => {},
    };
  }
}
