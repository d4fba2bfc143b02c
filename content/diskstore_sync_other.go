//go:build !linux || meshfs_portablesync

package content

import (
	"os"

	"meshfs/internal/atomicfile"
)

// batchSyncer is the portable way to make a batch durable: each Put fsyncs
// its own file (Puts run concurrently, so their fsyncs overlap), and the
// committer fsyncs once each folder that holds the batch's files (their
// names), and the store's folder, where Puts make shard folders. Build with the
// meshfs_portablesync tag to use it on Linux too (for its tests).
type batchSyncer struct {
	root string // the store's folder
}

func openBatchSyncer(dir string) (*batchSyncer, error) { return &batchSyncer{root: dir}, nil }

// written makes f's data durable.
func (*batchSyncer) written(f *os.File) error { return f.Sync() }

// sync makes the names in dirs (and renames done there before), and the
// shard folders made, durable by fsyncing each folder; written already
// synced each file's data.
func (y *batchSyncer) sync(dirs []string) error {
	for _, d := range append(dirs, y.root) {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func (*batchSyncer) close() error { return nil }

// spreadSubdirs does nothing: the hint it gives is Linux's.
func spreadSubdirs(string) {}
