package content

import (
	"fmt"

	"github.com/ipfs/go-cid"
)

// DefaultLinksPerNode is the fan-out of a file DAG's internal nodes, the
// same as IPFS's balanced layout (helpers.DefaultLinksPerBlock).
const DefaultLinksPerNode = 174

// FileBuilder lays out the balanced UnixFS DAG of a file from its leaves,
// given in order. It is pure: it hashes the internal nodes it makes, and
// does no I/O. Use it as
//
//	b := NewFileBuilder(DefaultLinksPerNode)
//	for each leaf: nodes, err := b.AddLeaf(leafCID, leafSize)  // store nodes
//	root, nodes, err := b.Finish()                              // store nodes
//
// The resulting DAG is the one IPFS's balanced builder makes with raw
// leaves: every leaf at the same depth, each internal node filled with up
// to linksPerNode children from left to right, and a single-leaf file being
// the leaf itself.
type FileBuilder struct {
	linksPerNode int
	// levels[0] holds leaves not yet under a node, levels[i] nodes of
	// height i not yet under a parent.
	levels   [][]fileChild
	finished bool
}

// fileChild is a finished subtree: its link and how many file bytes it
// covers.
type fileChild struct {
	link     Link
	fileSize uint64
}

// FileRoot describes a finished file DAG.
type FileRoot struct {
	CID      cid.Cid
	FileSize uint64 // bytes of file content
	Tsize    uint64 // bytes of all blocks in the DAG (the link size IPFS uses)
}

// NewFileBuilder returns a builder with the given internal-node fan-out
// (at least 2).
func NewFileBuilder(linksPerNode int) (*FileBuilder, error) {
	if linksPerNode < 2 {
		return nil, fmt.Errorf("%w: links per node %d, want at least 2", ErrInvalidOption, linksPerNode)
	}
	return &FileBuilder{linksPerNode: linksPerNode, levels: make([][]fileChild, 1, 4)}, nil
}

// AddLeaf appends the next leaf of the file and returns the internal nodes
// this completed, which the caller must store.
func (b *FileBuilder) AddLeaf(leaf cid.Cid, size int) ([]Block, error) {
	if b.finished {
		return nil, fmt.Errorf("%w: AddLeaf after Finish", ErrInvalidOption)
	}
	if size < 0 || size > MaxBlockSize {
		return nil, fmt.Errorf("%w: leaf size %d", ErrInvalidOption, size)
	}
	b.levels[0] = append(b.levels[0], fileChild{link: Link{CID: leaf, Tsize: uint64(size)}, fileSize: uint64(size)})
	var out []Block
	// Close every level that is full; a full level's node goes one up.
	for h := 0; h < len(b.levels) && len(b.levels[h]) == b.linksPerNode; h++ {
		blk, child, err := b.closeLevel(h)
		if err != nil {
			return nil, err
		}
		out = append(out, blk)
		b.push(h+1, child)
	}
	return out, nil
}

// Finish closes the partial nodes on the right edge of the tree and returns
// the root and the nodes it made. A file with no leaves is the empty raw
// block, which Finish returns among the nodes.
func (b *FileBuilder) Finish() (FileRoot, []Block, error) {
	if b.finished {
		return FileRoot{}, nil, fmt.Errorf("%w: Finish called twice", ErrInvalidOption)
	}
	b.finished = true
	if len(b.levels) == 1 && len(b.levels[0]) == 0 {
		empty, err := NewRawBlock([]byte{})
		if err != nil {
			return FileRoot{}, nil, err
		}
		return FileRoot{CID: empty.CID()}, []Block{empty}, nil
	}
	var out []Block
	for h := 0; ; h++ {
		top := h == len(b.levels)-1
		if top && len(b.levels[h]) == 1 {
			root := b.levels[h][0]
			return FileRoot{CID: root.link.CID, FileSize: root.fileSize, Tsize: root.link.Tsize}, out, nil
		}
		if len(b.levels[h]) == 0 {
			continue // everything at this height is already under a parent
		}
		blk, child, err := b.closeLevel(h)
		if err != nil {
			return FileRoot{}, nil, err
		}
		out = append(out, blk)
		b.push(h+1, child)
	}
}

func (b *FileBuilder) push(h int, c fileChild) {
	if h == len(b.levels) {
		b.levels = append(b.levels, make([]fileChild, 0, b.linksPerNode))
	}
	b.levels[h] = append(b.levels[h], c)
}

// closeLevel makes a UnixFS file node over the pending children at height h
// and empties that level.
func (b *FileBuilder) closeLevel(h int) (Block, fileChild, error) {
	children := b.levels[h]
	links := make([]Link, len(children))
	sizes := make([]uint64, len(children))
	var fileSize, tsize uint64
	for i, c := range children {
		links[i] = c.link
		sizes[i] = c.fileSize
		fileSize += c.fileSize
		tsize += c.link.Tsize
	}
	data := FSData{Type: TypeFile, FileSize: &fileSize, BlockSizes: sizes}.Encode()
	blk, err := NewBlock(CodecDagPB, PBNode{Links: links, Data: data}.Encode())
	if err != nil {
		return Block{}, fileChild{}, err
	}
	b.levels[h] = children[:0]
	return blk, fileChild{link: Link{CID: blk.CID(), Tsize: tsize + uint64(blk.Size())}, fileSize: fileSize}, nil
}
