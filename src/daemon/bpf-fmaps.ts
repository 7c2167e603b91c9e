/**
 * `famfs mount -o bpf-fmap`: the daemon publishes every file's fmap to the pinned BPF map of its
 * file system (src/bpf), keeps it in step as the log grows, and removes the pins at unmount, so a
 * BPF resolver always sees exactly the files this mount serves.
 */
import type { FamfsHandle } from '../fs/famfs.js';

export interface BpfFmaps {
  /** Publish files logged since the last call. */
  sync(): void;
  /** Remove the pinned map and programs. */
  stop(): void;
}

/** Loaded only when asked for: the BPF modules pull in the addon's bpf(2) wrappers. */
export async function startBpfFmaps(fs: FamfsHandle, log: (msg: string) => void): Promise<BpfFmaps> {
  const { FmapPublisher, unpublish } = await import('../bpf/publish.js');
  const publisher = FmapPublisher.open(fs);
  try {
    const r = publisher.publishAll();
    const programs = publisher.pinPrograms();
    log(`bpf-fmap: published ${r.published} fmaps at ${r.dir}${programs.length ? ` with ${programs.length} resolver programs` : ' (resolver not built)'}`);
  } catch (err) {
    publisher.close();
    unpublish(fs.uuid);
    throw err;
  }
  return {
    sync: () => {
      try {
        publisher.sync();
      } catch (err) {
        log(`bpf-fmap: ${(err as Error).message}`);
      }
    },
    stop: () => {
      publisher.close();
      unpublish(fs.uuid);
    },
  };
}
