package fsclient

import (
	"os"
	"slices"
	"sort"
)

// extent is a changed byte range [off, end) of an open file. Its bytes
// are data, or, once the set has spilled, in the spill file at off.
type extent struct {
	off, end int64
	data     []byte
}

// dirtySet holds the bytes written to an open file and not yet committed,
// as sorted, disjoint, non-adjacent extents: in memory up to limit bytes,
// then in a sparse temporary file at the bytes' own offsets. Its zero
// value is empty and never spills; it is not safe for concurrent use.
type dirtySet struct {
	ext     []extent
	bytes   int64
	limit   int64 // spill beyond this many bytes; 0: never
	spill   *os.File
	noSpill bool // a temporary file could not be made: stay in memory
}

// dirtyBytes returns how many changed bytes the set holds.
func (d *dirtySet) dirtyBytes() int64 { return d.bytes }

// extents returns the changed ranges (their data must not be kept).
func (d *dirtySet) extents() []extent { return d.ext }

// find returns the index of the first extent that ends after off: the one
// holding off, or the next one (len(d.ext) if none).
func (d *dirtySet) find(off int64) int {
	return sort.Search(len(d.ext), func(i int) bool { return d.ext[i].end > off })
}

// write records p written at off.
func (d *dirtySet) write(p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	end := off + int64(len(p))
	// ext[i:j] overlap or touch [off, end).
	i := sort.Search(len(d.ext), func(k int) bool { return d.ext[k].end >= off })
	j := i
	for j < len(d.ext) && d.ext[j].off <= end {
		j++
	}
	start, stop := off, end
	if i < j {
		start, stop = min(start, d.ext[i].off), max(stop, d.ext[j-1].end)
	}
	merged := extent{off: start, end: stop}
	switch {
	case d.spill != nil:
		if _, err := d.spill.WriteAt(p, off); err != nil {
			return err
		}
	case j == i+1 && d.ext[i].off == start:
		// One extent grows (the common case: sequential writes), in place
		// with amortized appends.
		data := d.ext[i].data
		if n := int(stop - start); n > len(data) {
			data = slices.Grow(data, n-len(data))[:n]
		}
		copy(data[off-start:], p)
		merged.data = data
	default:
		data := make([]byte, stop-start)
		for _, e := range d.ext[i:j] {
			copy(data[e.off-start:], e.data)
		}
		copy(data[off-start:], p)
		merged.data = data
	}
	for _, e := range d.ext[i:j] {
		d.bytes -= e.end - e.off
	}
	d.bytes += stop - start
	d.ext = slices.Replace(d.ext, i, j, merged)
	if d.spill == nil && !d.noSpill && d.limit > 0 && d.bytes > d.limit {
		d.spillAll()
	}
	return nil
}

// spillAll moves the bytes into a temporary file, or, if none can be
// made, decides to keep them in memory.
func (d *dirtySet) spillAll() {
	f, err := os.CreateTemp("", "meshfs-fsclient-*")
	if err != nil {
		d.noSpill = true
		return
	}
	for _, e := range d.ext {
		if _, err := f.WriteAt(e.data, e.off); err != nil {
			f.Close()
			os.Remove(f.Name())
			d.noSpill = true
			return
		}
	}
	for i := range d.ext {
		d.ext[i].data = nil
	}
	d.spill = f
}

// readAt fills p with the changed bytes at off, which must lie within one
// extent, ext[i].
func (d *dirtySet) readAt(i int, p []byte, off int64) error {
	e := d.ext[i]
	if d.spill != nil {
		_, err := d.spill.ReadAt(p, off)
		return err
	}
	copy(p, e.data[off-e.off:])
	return nil
}

// truncate forgets every changed byte at or beyond size.
func (d *dirtySet) truncate(size int64) {
	i := d.find(size)
	if i < len(d.ext) && d.ext[i].off < size {
		e := &d.ext[i]
		d.bytes -= e.end - size
		e.end = size
		if e.data != nil {
			e.data = e.data[:size-e.off]
		}
		i++
	}
	for _, e := range d.ext[i:] {
		d.bytes -= e.end - e.off
	}
	d.ext = d.ext[:i]
	if d.spill != nil {
		_ = d.spill.Truncate(size) // only frees space; the extents say what counts
	}
}

// reset forgets every changed byte and removes the temporary file.
func (d *dirtySet) reset() {
	d.ext, d.bytes = nil, 0
	if d.spill != nil {
		d.spill.Close()
		os.Remove(d.spill.Name())
		d.spill = nil
	}
}
