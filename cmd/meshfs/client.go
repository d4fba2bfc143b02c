package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// defaultAPI is where the CLI looks for a daemon when neither --api nor
// MESHFS_API says.
const defaultAPI = "http://127.0.0.1:5101"

const apiFlagHelp = "daemon API `URL` (default $MESHFS_API, else " + defaultAPI + ")"

// apiFlag adds --api to fs.
func apiFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("MESHFS_API")
	if def == "" {
		def = defaultAPI
	}
	return fs.String("api", def, apiFlagHelp)
}

// client talks to a daemon's HTTP API.
type client struct {
	base string
	http *http.Client
}

func newClient(base string) (*client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--api %q: want a URL like %s", base, defaultAPI)
	}
	return &client{base: strings.TrimRight(base, "/"), http: &http.Client{}}, nil
}

// do sends a request and returns the response if its status is 200;
// otherwise the daemon's error message as an error.
func (c *client) do(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Response, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if t := os.Getenv(tokenEnv); t != "" {
		req.Header.Set("Authorization", "Bearer "+t)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("no daemon answers at %s (start one with meshfs daemon, or give --api): %w", c.base, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return nil, errors.New(e.Error)
	}
	return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
}

// getJSON decodes the answer to a GET into v.
func (c *client) getJSON(ctx context.Context, path string, q url.Values, v any) error {
	return c.callJSON(ctx, http.MethodGet, path, q, nil, v)
}

func (c *client) callJSON(ctx context.Context, method, path string, q url.Values, body io.Reader, v any) error {
	resp, err := c.do(ctx, method, path, q, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: bad answer: %w", path, err)
	}
	return nil
}

// countingReader reports the bytes read through it.
type countingReader struct {
	r    io.Reader
	n    int64
	tell func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.tell(c.n)
	return n, err
}

// countingWriter reports the bytes written through it.
type countingWriter struct {
	w    io.Writer
	n    int64
	tell func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.tell(c.n)
	return n, err
}
