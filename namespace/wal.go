package namespace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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
// before the messages of the same Ready are sent.
type WAL struct {
	f *os.File
	w *bufio.Writer
}

// Record types.
const (
	recHardState byte = 1
	recEntries   byte = 2
)

// maxRecord bounds one record: a batch of entries of at most a few MiB.
const maxRecord = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// OpenWAL opens (or creates) the log in dir and returns it with the storage
// it replays to. A torn record at the end (a crash in the middle of a Save)
// is cut off; a bad record before the end is ErrCorruptLog.
func OpenWAL(dir string) (*WAL, *raft.MemoryStorage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "raft.log"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	st := raft.NewMemoryStorage()
	good, err := replay(f, st)
	if err == nil {
		hs, _, _ := st.InitialState()
		if last, _ := st.LastIndex(); hs.GetCommit() > last {
			err = fmt.Errorf("%w: commit index %d past the last entry %d", ErrCorruptLog, hs.GetCommit(), last)
		}
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
	return &WAL{f: f, w: bufio.NewWriterSize(f, 1<<20)}, st, nil
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
		if err := applyRecord(st, typ, payload); err != nil {
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

func applyRecord(st *raft.MemoryStorage, typ byte, payload []byte) error {
	switch typ {
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
		if es[0].GetIndex() == 0 || es[0].GetIndex() > last+1 {
			return fmt.Errorf("entries from %d after last index %d", es[0].GetIndex(), last)
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

func (w *WAL) writeRecord(typ byte, payload []byte) error {
	body := append([]byte{typ}, payload...)
	var hdr [binary.MaxVarintLen64 + 4]byte
	n := binary.PutUvarint(hdr[:], uint64(len(body)))
	binary.BigEndian.PutUint32(hdr[n:], crc32.Checksum(body, castagnoli))
	if _, err := w.w.Write(hdr[:n+4]); err != nil {
		return err
	}
	_, err := w.w.Write(body)
	return err
}

// Save appends entries and the hard state (either may be empty) and
// fsyncs them.
func (w *WAL) Save(hs *raftpb.HardState, entries []*raftpb.Entry) error {
	if len(entries) > 0 {
		b, err := entryBatch(entries).marshal()
		if err != nil {
			return err
		}
		if err := w.writeRecord(recEntries, b); err != nil {
			return err
		}
	}
	if hs != nil && !raft.IsEmptyHardState(hs) {
		b, err := proto.Marshal(hs)
		if err != nil {
			return err
		}
		if err := w.writeRecord(recHardState, b); err != nil {
			return err
		}
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	return w.f.Sync()
}

// Close closes the log file.
func (w *WAL) Close() error { return w.f.Close() }
