package fsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/ipfs/go-cid"

	meshcontent "meshfs/content"
)

// apiBlock is where the daemon's IPFS trustless gateway serves a block.
const (
	apiBlock   = "/ipfs/"
	mediaBlock = "application/vnd.ipld.raw"
)

// Blocks returns a getter of the blocks the daemon holds or fetches from
// the mesh, one per request to its IPFS trustless gateway (GET
// /ipfs/{cid}?format=raw). Every block is verified against its CID: bytes
// that do not match fail with content.ErrHashMismatch, a block the daemon
// cannot find with content.ErrNotFound. With [meshfs/content.NewFileReader] it
// reads a file's content (Info.CID) block by block.
//
// Its requests go through the client's HTTP client, except that with
// http.DefaultClient (the default) the getter has a connection pool of
// its own that keeps up to maxBlockConns connections to the daemon open:
// http.DefaultTransport keeps 2, and a reader with more blocks in flight
// would dial a new connection for most of them.
func (c *Client) Blocks() meshcontent.BlockGetter {
	d := *c
	if t, ok := http.DefaultTransport.(*http.Transport); ok && c.http == http.DefaultClient {
		t = t.Clone()
		t.MaxIdleConnsPerHost = maxBlockConns
		d.http = &http.Client{Transport: t}
	}
	return blockGetter{&d}
}

// maxBlockConns is how many idle connections a block getter keeps.
const maxBlockConns = 64

type blockGetter struct{ c *Client }

// Get implements meshcontent.BlockGetter.
func (g blockGetter) Get(ctx context.Context, id cid.Cid) (meshcontent.Block, error) {
	if err := meshcontent.CheckCID(id); err != nil {
		return meshcontent.Block{}, err
	}
	resp, err := g.c.do(ctx, request{method: http.MethodGet, path: apiBlock + id.String(),
		query: url.Values{"format": {"raw"}}, accept: mediaBlock})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound {
			return meshcontent.Block{}, fmt.Errorf("%w: %s: %s", meshcontent.ErrNotFound, id, e.Message)
		}
		return meshcontent.Block{}, fmt.Errorf("fsclient: block %s: %w", id, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > meshcontent.MaxBlockSize {
		return meshcontent.Block{}, fmt.Errorf("%w: block %s: %d bytes", meshcontent.ErrBlockTooLarge, id, resp.ContentLength)
	}
	var data []byte
	if resp.ContentLength >= 0 {
		data = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, data)
	} else {
		data, err = io.ReadAll(io.LimitReader(resp.Body, meshcontent.MaxBlockSize+1))
	}
	if err != nil {
		if ctx.Err() != nil {
			return meshcontent.Block{}, ctx.Err()
		}
		return meshcontent.Block{}, fmt.Errorf("%w: block %s: %w", ErrBadAnswer, id, err)
	}
	b, err := meshcontent.BlockFromCID(id, data)
	if err != nil {
		return meshcontent.Block{}, fmt.Errorf("fsclient: block %s from %s: %w", id, g.c.base, err)
	}
	return b, nil
}
