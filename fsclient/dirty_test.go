package fsclient

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// dirtyModel is what a dirtySet should hold: bytes and which are set.
type dirtyModel struct {
	data []byte
	set  []bool
}

func (m *dirtyModel) write(p []byte, off int64) {
	for int64(len(m.data)) < off+int64(len(p)) {
		m.data, m.set = append(m.data, 0), append(m.set, false)
	}
	copy(m.data[off:], p)
	for i := range p {
		m.set[off+int64(i)] = true
	}
}

func (m *dirtyModel) truncate(size int64) {
	if size < int64(len(m.data)) {
		m.data, m.set = m.data[:size], m.set[:size]
	}
}

// check compares d with the model: the extents are the maximal runs of
// set bytes, holding the model's bytes.
func (m *dirtyModel) check(t *testing.T, d *dirtySet, step string) {
	t.Helper()
	var want []extent
	var total int64
	for i := 0; i < len(m.set); i++ {
		if !m.set[i] {
			continue
		}
		j := i
		for j < len(m.set) && m.set[j] {
			j++
		}
		want = append(want, extent{off: int64(i), end: int64(j)})
		total += int64(j - i)
		i = j
	}
	if len(d.ext) != len(want) || d.bytes != total {
		t.Fatalf("%s: %d extents holding %d bytes, want %d holding %d (%v)", step, len(d.ext), d.bytes, len(want), total, d.ext)
	}
	for k, w := range want {
		e := d.ext[k]
		if e.off != w.off || e.end != w.end {
			t.Fatalf("%s: extent %d is [%d,%d), want [%d,%d)", step, k, e.off, e.end, w.off, w.end)
		}
		got := make([]byte, e.end-e.off)
		if err := d.readAt(k, got, e.off); err != nil {
			t.Fatalf("%s: readAt: %v", step, err)
		}
		if !bytes.Equal(got, m.data[e.off:e.end]) {
			t.Fatalf("%s: extent %d holds other bytes", step, k)
		}
		if i := d.find(e.off); i != k {
			t.Fatalf("%s: find(%d) = %d, want %d", step, e.off, i, k)
		}
	}
}

// dirtyOp is a write (size < 0) or a truncation.
type dirtyOp struct {
	off  int64
	data string
	size int64
}

func TestDirtySet(t *testing.T) {
	w := func(off int64, s string) dirtyOp { return dirtyOp{off: off, data: s, size: -1} }
	tr := func(size int64) dirtyOp { return dirtyOp{size: size} }
	tests := []struct {
		name string
		ops  []dirtyOp
	}{
		{"one write", []dirtyOp{w(3, "abc")}},
		{"appends merge", []dirtyOp{w(0, "ab"), w(2, "cd"), w(4, "ef")}},
		{"disjoint stay apart", []dirtyOp{w(0, "ab"), w(10, "cd"), w(5, "x")}},
		{"a write bridges two", []dirtyOp{w(0, "ab"), w(5, "cd"), w(2, "XYZ")}},
		{"a write covers several", []dirtyOp{w(2, "a"), w(4, "b"), w(6, "c"), w(0, "0123456789")}},
		{"overwrite inside", []dirtyOp{w(0, "abcdef"), w(2, "XY")}},
		{"write before, touching", []dirtyOp{w(5, "fg"), w(3, "de")}},
		{"write before, overlapping", []dirtyOp{w(5, "fgh"), w(3, "DEF")}},
		{"truncate cuts one", []dirtyOp{w(0, "abcdef"), tr(3)}},
		{"truncate drops some", []dirtyOp{w(0, "ab"), w(5, "cd"), w(9, "ef"), tr(6)}},
		{"truncate then write past", []dirtyOp{w(0, "abcdef"), tr(2), w(4, "xy")}},
		{"truncate to zero", []dirtyOp{w(1, "abc"), tr(0), w(0, "z")}},
		{"empty write", []dirtyOp{w(4, "")}},
	}
	for _, limit := range []int64{0, 3} { // 3: spills to a temporary file
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/limit=%d", tt.name, limit), func(t *testing.T) {
				d := &dirtySet{limit: limit}
				defer d.reset()
				m := &dirtyModel{}
				for i, op := range tt.ops {
					if op.size >= 0 {
						d.truncate(op.size)
						m.truncate(op.size)
					} else {
						if err := d.write([]byte(op.data), op.off); err != nil {
							t.Fatal(err)
						}
						m.write([]byte(op.data), op.off)
					}
					m.check(t, d, fmt.Sprintf("op %d", i))
				}
			})
		}
	}
}

func TestDirtySetRandom(t *testing.T) {
	seed := uint64(rand.Int64())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	for _, limit := range []int64{0, 64} {
		d := &dirtySet{limit: limit}
		m := &dirtyModel{}
		for i := range 2000 {
			if r.IntN(10) == 0 {
				size := r.Int64N(300)
				d.truncate(size)
				m.truncate(size)
			} else {
				p := make([]byte, r.IntN(20)+1)
				for k := range p {
					p[k] = byte(r.Uint32())
				}
				off := r.Int64N(300)
				if err := d.write(p, off); err != nil {
					t.Fatal(err)
				}
				m.write(p, off)
			}
			m.check(t, d, fmt.Sprintf("limit %d, step %d", limit, i))
		}
		if limit > 0 && d.spill == nil {
			t.Error("never spilled")
		}
		d.reset()
	}
}
