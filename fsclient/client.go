package fsclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"meshfs/member"
)

// apiFS is where the namespace's endpoints are; apiCat reads content by CID.
const (
	apiFS  = "/api/v0/fs/"
	apiCat = "/api/v0/cat"
)

// Client talks to one daemon's namespace API. Its methods may be called
// from several goroutines.
type Client struct {
	base     string // the API URL, without a trailing slash
	http     *http.Client
	level    member.Level
	hook     func(*http.Request) error
	memLimit int64
	// owner, if set, owns the inodes this client's changes make.
	owner *owner
}

// owner is a POSIX uid and gid.
type owner struct{ uid, gid uint32 }

// As returns a client like c (sharing its HTTP client and settings) whose
// changes that make inodes (Mkdir, MkdirAll, OpenFile with O_CREATE,
// Create, WriteFile, Write, Symlink, Touch) make them owned by uid and
// gid. A client not made by As leaves the owner to the daemon, which
// makes it 0:0, root. Neither the client nor the daemon checks who may
// do what: that is for the caller (the mount has the kernel check).
func (c *Client) As(uid, gid uint32) *Client {
	d := *c
	d.owner = &owner{uid, gid}
	return &d
}

// setOwner adds the client's owner, if any, to the query of a change that
// may make an inode.
func (c *Client) setOwner(q url.Values) url.Values {
	if c.owner != nil {
		q.Set("uid", strconv.FormatUint(uint64(c.owner.uid), 10))
		q.Set("gid", strconv.FormatUint(uint64(c.owner.gid), 10))
	}
	return q
}

// New returns a client of the daemon whose API is at apiURL (such as
// http://127.0.0.1:5101). By default it uses http.DefaultClient, reads at
// member.Strong and keeps up to DefaultMemoryLimit changed bytes of an
// open file in memory; the options change that.
func New(apiURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fsclient: API URL %q: want one like http://127.0.0.1:5101", apiURL)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	return &Client{
		base: strings.TrimRight(apiURL, "/"), http: cfg.http, level: cfg.level,
		hook: cfg.hook, memLimit: cfg.memLimit,
	}, nil
}

// Consistency returns the level of the client's reads.
func (c *Client) Consistency() member.Level { return c.level }

// request is one call to the API.
type request struct {
	method string
	path   string // like apiFS + "stat"
	query  url.Values
	body   io.Reader
	size   int64  // the body's length, -1 if unknown
	accept string // the Accept header, if any
}

// do sends r and returns the answer if its status is 200, otherwise the
// error the daemon answered with.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, r.body)
	if err != nil {
		return nil, err
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
		switch {
		case r.size == 0:
			req.ContentLength, req.Body, req.GetBody = 0, http.NoBody, nil
		case r.size > 0:
			req.ContentLength = r.size
		}
	}
	if c.hook != nil {
		if err := c.hook(req); err != nil {
			return nil, err
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("no daemon answers at %s: %w", c.base, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeError(resp)
}

// call sends r and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadAnswer, r.path, err)
	}
	return nil
}

// get calls the read endpoint name with args, at the client's level.
func (c *Client) get(ctx context.Context, name string, q url.Values, out any) error {
	return c.getAt(ctx, c.level, name, q, out)
}

func (c *Client) getAt(ctx context.Context, level member.Level, name string, q url.Values, out any) error {
	if q == nil {
		q = url.Values{}
	}
	if level != member.Strong {
		q.Set("consistency", string(level))
	}
	return c.call(ctx, request{method: http.MethodGet, path: apiFS + name, query: q}, out)
}

// post calls the change endpoint name with args and no body.
func (c *Client) post(ctx context.Context, name string, q url.Values) (Commit, error) {
	var cm Commit
	err := c.call(ctx, request{method: http.MethodPost, path: apiFS + name, query: q}, &cm)
	return cm, err
}
