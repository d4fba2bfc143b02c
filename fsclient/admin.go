package fsclient

import (
	"context"
	"net/http"
	"net/url"
)

// Root renders the tree, read at the client's level, and returns its root:
// a UnixFS directory CID that any IPFS tool can walk, and the term, index
// and writer of the state it shows.
func (c *Client) Root(ctx context.Context) (RootInfo, error) {
	var r RootInfo
	err := c.get(ctx, "root", nil, &r)
	return r, err
}

// Writer returns what the daemon knows of the namespace's writer, term and
// voters (its own view: no read is made).
func (c *Client) Writer(ctx context.Context) (WriterInfo, error) {
	var w WriterInfo
	err := c.call(ctx, request{method: http.MethodGet, path: apiFS + "writer"}, &w)
	return w, err
}

// Allow lets the peer peerID change the namespace ("*": any peer); only
// voters may without it.
func (c *Client) Allow(ctx context.Context, peerID string) error {
	return c.peerChange(ctx, "allow", peerID, false)
}

// Deny takes back what Allow gave peerID.
func (c *Client) Deny(ctx context.Context, peerID string) error {
	return c.peerChange(ctx, "deny", peerID, false)
}

// AddVoter makes the peer peerID a voter of the namespace.
func (c *Client) AddVoter(ctx context.Context, peerID string) error {
	return c.peerChange(ctx, "voters", peerID, false)
}

// RemoveVoter makes the peer peerID a voter no more.
func (c *Client) RemoveVoter(ctx context.Context, peerID string) error {
	return c.peerChange(ctx, "voters", peerID, true)
}

func (c *Client) peerChange(ctx context.Context, endpoint, peerID string, remove bool) error {
	if peerID == "" {
		return errNoPeer
	}
	q := url.Values{"arg": {peerID}}
	if remove {
		q.Set("remove", "1")
	}
	_, err := c.post(ctx, endpoint, q)
	return err
}
