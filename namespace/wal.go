package namespace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ErrCorruptLog reports a Raft log file whose records do not check out
// somewhere before its end (a torn last record is not corruption: it is cut
// off at open).
var ErrCorruptLog = errors.New("namespace: corrupt raft log")

// WAL is a replica's Raft log on disk: hard states and entries appended as
// checksummed records to one file and fsynced before Save returns, replayed
// into a raft.MemoryStorage at open. Raft requires that they are durable
// before the messages of the same Ready are sent. SaveSnapshot rewrites the
// file to start with a snapshot, dropping what precedes it.
//
// The file is a sequence of records:
//
//	record    = len:uvarint crc:uint32be type:byte payload   (len counts type+payload,
//	                                                          crc is crc32c of them)
//	type 1    = hard state: a raftpb.HardState
//	type 2    = entries: { len:uvarint raftpb.Entry }        (consecutive indexes)
//	type 3    = snapshot: a raftpb.Snapshot                  (first record only)
//
// After a snapshot record, entries start right after its index.
type WAL struct {
	dir string
	f   *os.File
	w   *bufio.Writer
	// beforeRename, if set, runs once a rewrite's temporary file is
	// complete and fsynced, before it replaces the log: tests stop there
	// as a crash would.
	beforeRename func(tmp string) error
	// synced is the last hard state made durable (nil: none yet).
	synced *raftpb.HardState
}

var _ Log = (*WAL)(nil)

// Record types.
const (
	recHardState byte = 1
	recEntries   byte = 2
	recSnapshot  byte = 3
)

// The log's file, and the temporary file a rewrite fills before renaming
// it over the log.
const (
	walName = "raft.log"
	walTemp = "raft.log.tmp"
)

// maxRecord bounds one record: a batch of entries of at most a few MiB.
const maxRecord = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenWAL opens (or creates) the log in dir and returns it with the storage
// it replays to: the snapshot the log starts with, if any, then the entries
// after it and the last hard state. A torn record at the end (a crash in
// the middle of a Save) is cut off; a bad record before the end is
// ErrCorruptLog. A temporary file left by a rewrite that crashed before it
// replaced the log is removed: the log it was to replace is whole.
func OpenWAL(dir string) (*WAL, *raft.MemoryStorage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	if err := os.Remove(filepath.Join(dir, walTemp)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, walName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	st := raft.NewMemoryStorage()
	good, err := replay(f, st)
	if err == nil {
		err = checkCommit(st)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, err
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	w := &WAL{dir: dir, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	if hs, _, err := st.InitialState(); err == nil && !raft.IsEmptyHardState(hs) {
		w.synced = proto.Clone(hs).(*raftpb.HardState)
	}
	return w, st, nil
}

// checkCommit checks that the replayed hard state's commit index lies
// within the log (Raft would refuse to start otherwise).
func checkCommit(st *raft.MemoryStorage) error {
	hs, _, _ := st.InitialState()
	if raft.IsEmptyHardState(hs) {
		return nil
	}
	first, _ := st.FirstIndex()
	last, _ := st.LastIndex()
	if c := hs.GetCommit(); c > last || c < first-1 {
		return fmt.Errorf("%w: commit index %d outside the log [%d, %d]", ErrCorruptLog, c, first-1, last)
	}
	return nil
}

// replay applies the file's records to st and returns the length of the
// whole records.
func replay(r io.Reader, st *raft.MemoryStorage) (int64, error) {
	br := bufio.NewReader(r)
	var good int64
	for {
		typ, payload, n, err := readRecord(br)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return good, nil // the end, or a torn last record
		}
		if err != nil {
			// A bad checksum is a torn write only if nothing follows it.
			if _, perr := br.Peek(1); errors.Is(perr, io.EOF) {
				return good, nil
			}
			return 0, fmt.Errorf("%w: at byte %d: %v", ErrCorruptLog, good, err)
		}
		if err := applyRecord(st, typ, payload, good == 0); err != nil {
			return 0, fmt.Errorf("%w: at byte %d: %v", ErrCorruptLog, good, err)
		}
		good += int64(n)
	}
}

// readRecord reads one record: uvarint length of type+payload, crc32c of
// them, type, payload. It returns the bytes it took.
func readRecord(br *bufio.Reader) (byte, []byte, int, error) {
	length, err := binary.ReadUvarint(br)
	if err != nil {
		return 0, nil, 0, err
	}
	if length == 0 || length > maxRecord {
		return 0, nil, 0, fmt.Errorf("record of %d bytes", length)
	}
	var sum [4]byte
	if _, err := io.ReadFull(br, sum[:]); err != nil {
		return 0, nil, 0, io.ErrUnexpectedEOF
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(br, body); err != nil {
		return 0, nil, 0, io.ErrUnexpectedEOF
	}
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum[:]) {
		return 0, nil, 0, errors.New("checksum mismatch")
	}
	n := len(binary.AppendUvarint(nil, length)) + 4 + int(length)
	return body[0], body[1:], n, nil
}

// applyRecord applies one record to st; first says it is the file's first.
func applyRecord(st *raft.MemoryStorage, typ byte, payload []byte, first bool) error {
	switch typ {
	case recSnapshot:
		if !first {
			return errors.New("snapshot record after the start")
		}
		var snap raftpb.Snapshot
		if err := proto.Unmarshal(payload, &snap); err != nil {
			return err
		}
		if snap.GetMetadata().GetIndex() == 0 || snap.GetMetadata().GetTerm() == 0 {
			return errors.New("empty snapshot")
		}
		return st.ApplySnapshot(&snap)
	case recHardState:
		var hs raftpb.HardState
		if err := proto.Unmarshal(payload, &hs); err != nil {
			return err
		}
		return st.SetHardState(&hs)
	case recEntries:
		var es entryBatch
		if err := es.unmarshal(payload); err != nil {
			return err
		}
		if len(es) == 0 {
			return errors.New("empty entry batch")
		}
		last, _ := st.LastIndex()
		for i, e := range es {
			if e.GetIndex() != es[0].GetIndex()+uint64(i) {
				return errors.New("entries out of order")
			}
		}
		// Entries follow the log or replace some of its end, never what
		// a snapshot replaced.
		if first, _ := st.FirstIndex(); es[0].GetIndex() < first || es[0].GetIndex() > last+1 {
			return fmt.Errorf("entries from %d outside [%d, %d]", es[0].GetIndex(), first, last+1)
		}
		return st.Append(es)
	}
	return fmt.Errorf("unknown record type %d", typ)
}

// entryBatch is a list of entries, each length-prefixed.
type entryBatch []*raftpb.Entry

func (b entryBatch) marshal() ([]byte, error) {
	var out []byte
	for _, e := range b {
		m, err := proto.Marshal(e)
		if err != nil {
			return nil, err
		}
		out = binary.AppendUvarint(out, uint64(len(m)))
		out = append(out, m...)
	}
	return out, nil
}

func (b *entryBatch) unmarshal(p []byte) error {
	for len(p) > 0 {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return errors.New("bad entry length")
		}
		var e raftpb.Entry
		if err := proto.Unmarshal(p[k:k+int(n)], &e); err != nil {
			return err
		}
		*b = append(*b, &e)
		p = p[k+int(n):]
	}
	return nil
}

// writeRecord writes one record to bw (see WAL for the layout).
func writeRecord(bw *bufio.Writer, typ byte, payload []byte) error {
	body := append([]byte{typ}, payload...)
	var hdr [binary.MaxVarintLen64 + 4]byte
	n := binary.PutUvarint(hdr[:], uint64(len(body)))
	binary.BigEndian.PutUint32(hdr[n:], crc32.Checksum(body, castagnoli))
	if _, err := bw.Write(hdr[:n+4]); err != nil {
		return err
	}
	_, err := bw.Write(body)
	return err
}

// Save appends entries and the hard state (either may be empty) and
// fsyncs them.
func (w *WAL) Save(hs *raftpb.HardState, entries []*raftpb.Entry) error {
	if err := writeEntries(w.w, entries); err != nil {
		return err
	}
	if err := writeHardState(w.w, hs); err != nil {
		return err
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	// Raft needs entries, term and vote durable before it answers; a
	// commit index alone may be lost in a crash (the writer tells it
	// again), so it rides along with the next fsync.
	if hs == nil || raft.IsEmptyHardState(hs) {
		hs = w.synced
	}
	if !raft.MustSync(hs, w.synced, len(entries)) {
		return nil
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if hs != nil {
		w.synced = proto.Clone(hs).(*raftpb.HardState)
	}
	return nil
}

// writeEntries writes entries as one record, if there are any.
func writeEntries(bw *bufio.Writer, entries []*raftpb.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	b, err := entryBatch(entries).marshal()
	if err != nil {
		return err
	}
	return writeRecord(bw, recEntries, b)
}

// writeHardState writes hs as a record, unless it is empty.
func writeHardState(bw *bufio.Writer, hs *raftpb.HardState) error {
	if hs == nil || raft.IsEmptyHardState(hs) {
		return nil
	}
	b, err := proto.Marshal(hs)
	if err != nil {
		return err
	}
	return writeRecord(bw, recHardState, b)
}

// Close closes the log file.
func (w *WAL) Close() error { return w.f.Close() }
