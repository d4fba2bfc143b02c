package content

import (
	"errors"
	"fmt"
	"io"
)

// Chunk sizes: IPFS's default and the range meshfs accepts.
const (
	DefaultChunkSize = 256 << 10
	MinChunkSize     = 1 << 10
	MaxChunkSize     = 1 << 20
)

// CheckChunkSize returns nil if n is an accepted chunk size.
func CheckChunkSize(n int) error {
	if n < MinChunkSize || n > MaxChunkSize {
		return fmt.Errorf("%w: chunk size %d, want %d to %d bytes", ErrInvalidOption, n, MinChunkSize, MaxChunkSize)
	}
	return nil
}

// Chunker cuts a stream into fixed-size chunks, the last one shorter, like
// IPFS's size splitter. An empty stream has no chunks.
type Chunker struct {
	r    io.Reader
	size int
	done bool
}

// NewChunker returns a chunker of r with the given chunk size.
func NewChunker(r io.Reader, size int) (*Chunker, error) {
	if err := CheckChunkSize(size); err != nil {
		return nil, err
	}
	return &Chunker{r: r, size: size}, nil
}

// Size is the chunk size.
func (c *Chunker) Size() int { return c.size }

// Next reads the next chunk into buf (which must hold Size bytes) and
// returns it, or io.EOF after the last chunk.
func (c *Chunker) Next(buf []byte) ([]byte, error) {
	if c.done {
		return nil, io.EOF
	}
	if len(buf) < c.size {
		return nil, fmt.Errorf("%w: chunk buffer of %d bytes, want %d", ErrInvalidOption, len(buf), c.size)
	}
	n, err := io.ReadFull(c.r, buf[:c.size])
	switch {
	case err == nil:
		return buf[:n], nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.done = true
		return buf[:n], nil
	case errors.Is(err, io.EOF):
		c.done = true
		return nil, io.EOF
	default:
		return nil, fmt.Errorf("content: reading input: %w", err)
	}
}
