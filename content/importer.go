package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/ipfs/go-cid"
	"golang.org/x/sync/errgroup"
)

// BlockPutter takes blocks. Put must not keep b.Data() after it returns:
// the importer reuses the buffer.
type BlockPutter interface {
	Put(ctx context.Context, b Block) error
}

// Discard is a BlockPutter that drops every block: Import into Discard
// only computes the CID (`add --only-hash`).
var Discard BlockPutter = discard{}

type discard struct{}

func (discard) Put(context.Context, Block) error { return nil }

// ImportOptions tune Import. The zero value is IPFS's defaults.
type ImportOptions struct {
	ChunkSize    int // bytes per leaf; 0 means DefaultChunkSize
	LinksPerNode int // fan-out of internal nodes; 0 means DefaultLinksPerNode
	// Parallel is how many leaves are hashed and stored at once; 0 means
	// max(16, 2*GOMAXPROCS): enough to keep every core hashing while other
	// leaves wait for a disk's fsync (a store's writes overlap best with
	// about 16 in flight).
	Parallel int
	// Progress, if set, is called from Import's goroutine with the number of
	// input bytes whose blocks are stored, each time that grows.
	Progress func(done int64)
}

func (o ImportOptions) withDefaults() (ImportOptions, error) {
	if o.ChunkSize == 0 {
		o.ChunkSize = DefaultChunkSize
	}
	if err := CheckChunkSize(o.ChunkSize); err != nil {
		return o, err
	}
	if o.LinksPerNode == 0 {
		o.LinksPerNode = DefaultLinksPerNode
	}
	if o.Parallel == 0 {
		o.Parallel = max(16, 2*runtime.GOMAXPROCS(0))
	}
	if o.Parallel < 1 {
		return o, fmt.Errorf("%w: parallel %d", ErrInvalidOption, o.Parallel)
	}
	return o, nil
}

// Import chunks r, stores the file's blocks in dst and returns the root of
// its UnixFS DAG. Leaves are hashed and stored several at a time; Import
// returns only after every block has been accepted by dst. On error some
// blocks may have been stored; nothing refers to them.
func Import(ctx context.Context, r io.Reader, dst BlockPutter, opts ImportOptions) (FileRoot, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return FileRoot{}, err
	}
	builder, err := NewFileBuilder(opts.LinksPerNode)
	if err != nil {
		return FileRoot{}, err
	}
	chunker, err := NewChunker(r, opts.ChunkSize)
	if err != nil {
		return FileRoot{}, err
	}

	type job struct {
		seq int
		buf []byte // the pooled buffer
		n   int
	}
	type leaf struct {
		seq  int
		cid  cid.Cid
		size int
	}
	// free holds the buffers; 2*Parallel bounds memory and lets the reader
	// run ahead of slow leaves. They are made as the reader needs them, so
	// a small file costs one buffer, not 2*Parallel.
	free := make(chan []byte, 2*opts.Parallel)
	made := 0
	jobs := make(chan job, opts.Parallel)
	leaves := make(chan leaf, cap(free))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The reader is not waited for: a Read blocked on a pipe or a terminal
	// must not keep Import from returning when ctx ends. It reports its
	// result on readDone before it closes jobs.
	readDone := make(chan error, 1)
	go func() {
		err := func() error {
			for seq := 0; ; seq++ {
				var buf []byte
				select {
				case buf = <-free:
				default:
					if made < cap(free) {
						made++
						buf = getChunkBuffer(opts.ChunkSize)
						break
					}
					select {
					case buf = <-free:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				chunk, err := chunker.Next(buf)
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				select {
				case jobs <- job{seq: seq, buf: buf, n: len(chunk)}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}()
		readDone <- err
		if err != nil {
			cancel()
		}
		close(jobs)
	}()
	g, gctx := errgroup.WithContext(ctx)
	var workers sync.WaitGroup
	for range opts.Parallel {
		workers.Add(1)
		g.Go(func() error {
			defer workers.Done()
			for {
				var j job
				select {
				case next, ok := <-jobs:
					if !ok {
						return nil
					}
					j = next
				case <-gctx.Done():
					return gctx.Err()
				}
				blk, err := NewRawBlock(j.buf[:j.n])
				if err == nil {
					err = dst.Put(gctx, blk)
				}
				if err != nil {
					return err
				}
				free <- j.buf
				select {
				case leaves <- leaf{seq: j.seq, cid: blk.CID(), size: j.n}:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		})
	}
	go func() {
		workers.Wait()
		close(leaves)
	}()

	// Feed leaves to the builder in input order.
	var (
		pending  = make(map[int]leaf)
		next     int
		done     int64
		buildErr error
	)
	for l := range leaves {
		if buildErr != nil {
			continue // drain so the workers can finish
		}
		pending[l.seq] = l
		for {
			l, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			nodes, err := builder.AddLeaf(l.cid, l.size)
			if err == nil {
				err = putAll(gctx, dst, nodes)
			}
			if err != nil {
				buildErr = err
				cancel() // stop reading and hashing; the loop drains
				break
			}
			done += int64(l.size)
			if opts.Progress != nil {
				opts.Progress(done)
			}
		}
	}
	err = g.Wait()
	// The buffers back in free are idle for good: keep them for the next
	// Import (one the reader still holds, blocked in a Read, is dropped).
	for len(free) > 0 {
		putChunkBuffer(<-free)
	}
	if buildErr != nil {
		return FileRoot{}, buildErr
	}
	select {
	case rerr := <-readDone:
		if rerr != nil {
			return FileRoot{}, rerr
		}
	default: // the reader is still blocked in a Read; ctx has ended
		if err == nil {
			err = ctx.Err()
		}
	}
	if err != nil {
		return FileRoot{}, err
	}
	root, nodes, err := builder.Finish()
	if err != nil {
		return FileRoot{}, err
	}
	if err := putAll(ctx, dst, nodes); err != nil {
		return FileRoot{}, err
	}
	return root, nil
}

func putAll(ctx context.Context, dst BlockPutter, blocks []Block) error {
	for _, b := range blocks {
		if err := dst.Put(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// chunkBuffers keeps idle chunk buffers between Imports, one pool per
// chunk size: a server importing many small files would otherwise allocate
// (and clear) a whole chunk for each.
var chunkBuffers sync.Map // int → *sync.Pool of *[]byte

func getChunkBuffer(size int) []byte {
	if p, ok := chunkBuffers.Load(size); ok {
		if b, ok := p.(*sync.Pool).Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, size)
}

func putChunkBuffer(b []byte) {
	p, _ := chunkBuffers.LoadOrStore(cap(b), &sync.Pool{})
	b = b[:cap(b)]
	p.(*sync.Pool).Put(&b)
}
