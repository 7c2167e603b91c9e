/**
 * The two numbers a file system hands the kernel and gets back in later requests, as distinct
 * types so one is never passed where the other belongs. Both travel as u64 on the wire and are
 * kept below 2^53 (see wire.ts's readU64). The brands exist only for the type checker.
 */

/** A FUSE node id: the kernel's name for an inode the file system looked up (1 is the root). */
export type NodeId = number & { readonly __brand: 'NodeId' };

/** A FUSE file handle: what OPEN/OPENDIR/CREATE replied, sent back on every request on that open file. */
export type FileHandle = number & { readonly __brand: 'FileHandle' };

export const nodeId = (n: number): NodeId => n as NodeId;
export const fileHandle = (n: number): FileHandle => n as FileHandle;

/** The handle of an open that keeps no per-open state. */
export const NO_FILE_HANDLE: FileHandle = fileHandle(0);
