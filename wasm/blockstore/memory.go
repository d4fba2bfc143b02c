package blockstore

import (
	"context"
	"sync"
)

// NewMemory returns a Store that keeps its blocks in memory, with the same
// byte bound, eviction and verification as the IndexedDB one: the fallback
// when [Open] fails with [ErrUnavailable]. cfg.Name is not used. The blocks
// are gone when it is closed.
func NewMemory(cfg Config) (*Store, error) {
	if cfg.Name == "" {
		cfg.Name = "memory"
	}
	return newStore(context.Background(), newMemBackend(), cfg)
}

// memBackend is a backend in a map. It applies each operation when it is
// started, so its waits have nothing to wait for.
type memBackend struct {
	mu   sync.Mutex
	recs map[string]memRecord
}

// memRecord is a block as memBackend holds it. data is never modified in
// place (a put stores a copy), so a read may use it after unlocking.
type memRecord struct {
	record[string]
	data []byte
}

func newMemBackend() *memBackend { return &memBackend{recs: make(map[string]memRecord)} }

func (m *memBackend) load(context.Context) ([]record[string], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]record[string], 0, len(m.recs))
	for _, r := range m.recs {
		out = append(out, r.record)
	}
	return out, nil
}

func (m *memBackend) write(op writeOp) func(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, st := range op.stamps {
		if r, ok := m.recs[st.key]; ok {
			r.stamp = st.stamp
			m.recs[st.key] = r
		}
	}
	for _, p := range op.puts {
		m.recs[p.rec.key] = memRecord{record: p.rec, data: p.bytes()}
	}
	for _, k := range op.del {
		delete(m.recs, k)
	}
	return func(context.Context) error { return nil }
}

func (m *memBackend) read(key string) func(context.Context, []byte) ([]byte, bool, error) {
	m.mu.Lock()
	r, ok := m.recs[key]
	m.mu.Unlock()
	return func(ctx context.Context, buf []byte) ([]byte, bool, error) {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		if !ok {
			return nil, false, nil
		}
		return append(buf[:0], r.data...), true, nil
	}
}

func (m *memBackend) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = nil
	return nil
}
