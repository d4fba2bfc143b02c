package namespace

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"meshfs/internal/atomicfile"
)

// maxBatch bounds the entries a rewrite puts in one record, well below
// maxRecord.
const maxBatch = 4 << 20

// SaveSnapshot replaces the log with snap, then hs (unless empty), then
// entries (which start right after snap's index). It writes them to a
// temporary file, fsyncs it, renames it over the log and fsyncs the
// folder, so a crash at any point leaves either the old log or the new
// one whole (OpenWAL removes a temporary file left behind). Later Saves
// append to the new log.
func (w *WAL) SaveSnapshot(snap *raftpb.Snapshot, hs *raftpb.HardState, entries []*raftpb.Entry) error {
	md := snap.GetMetadata()
	if md.GetIndex() == 0 || md.GetTerm() == 0 {
		return errors.New("namespace: raft log: empty snapshot")
	}
	for i, e := range entries {
		if e.GetIndex() != md.GetIndex()+1+uint64(i) {
			return fmt.Errorf("namespace: raft log: entry %d does not follow snapshot %d", e.GetIndex(), md.GetIndex())
		}
	}
	tmp := filepath.Join(w.dir, walTemp)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := writeRewrite(bw, snap, hs, entries); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if w.beforeRename != nil {
		if err := w.beforeRename(tmp); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, filepath.Join(w.dir, walName)); err != nil {
		return fail(err)
	}
	// The name is the new file's now: append to it, whatever happens next.
	old := w.f
	w.f = f
	w.w.Reset(f)
	old.Close()
	if hs != nil && !raft.IsEmptyHardState(hs) {
		w.synced = proto.Clone(hs).(*raftpb.HardState)
	}
	return atomicfile.SyncDir(w.dir)
}

// writeRewrite writes a rewritten log's records: the snapshot, the hard
// state, the entries in batches.
func writeRewrite(bw *bufio.Writer, snap *raftpb.Snapshot, hs *raftpb.HardState, entries []*raftpb.Entry) error {
	b, err := proto.Marshal(snap)
	if err != nil {
		return err
	}
	if err := writeRecord(bw, recSnapshot, b); err != nil {
		return err
	}
	if err := writeHardState(bw, hs); err != nil {
		return err
	}
	for len(entries) > 0 {
		n, size := 0, 0
		for n < len(entries) && (n == 0 || size+proto.Size(entries[n]) <= maxBatch) {
			size += proto.Size(entries[n])
			n++
		}
		if err := writeEntries(bw, entries[:n]); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}
