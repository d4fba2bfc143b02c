package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// client is one of the workload's clients: it sends each operation to a
// random daemon.
type client struct {
	id    int
	apis  func() []string // the running daemons' APIs
	http  *http.Client
	rng   *rand.Rand
	n     int // operations so far
	paths []string
}

// run does operations until ctx ends.
func (c *client) run(ctx context.Context, h *History) {
	for ctx.Err() == nil {
		apis := c.apis()
		if len(apis) == 0 {
			select { // every daemon is down for a moment: pace the loop
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		api := apis[c.rng.IntN(len(apis))]
		p := c.paths[c.rng.IntN(len(c.paths))]
		if c.rng.IntN(10) < 6 {
			c.n++
			h.Add(c.write(ctx, api, p, fmt.Sprintf("c%d-%d", c.id, c.n)))
		} else {
			h.Add(c.read(ctx, api, p))
		}
	}
}

// write writes value as the whole content of p through api.
func (c *client) write(ctx context.Context, api, p, value string) Op {
	op := Op{Client: c.id, Path: p, Write: true, Value: value, Invoke: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v0/fs/write?arg="+url.QueryEscape(p), strings.NewReader(value))
	if err != nil {
		op.Return, op.Outcome, op.Err = time.Now(), Failed, err.Error()
		return op
	}
	status, _, kind, err := do(c.http, req)
	op.Return = time.Now()
	switch {
	case err != nil:
		op.Outcome, op.Err = Unknown, err.Error() // sent, maybe applied
	case status == http.StatusOK:
		op.Outcome = OK
	case kind == "unknown" || status == http.StatusGatewayTimeout || status >= 500 && kind == "":
		op.Outcome, op.Err = Unknown, fmt.Sprintf("%d %s", status, kind)
	default:
		// nowriter, notallowed, closed...: refused before it was taken.
		op.Outcome, op.Err = Failed, fmt.Sprintf("%d %s", status, kind)
	}
	return op
}

// read reads p at the strong level through api.
func (c *client) read(ctx context.Context, api, p string) Op {
	op := Op{Client: c.id, Path: p, Invoke: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v0/fs/cat?consistency=strong&arg="+url.QueryEscape(p), nil)
	if err != nil {
		op.Return, op.Outcome, op.Err = time.Now(), Failed, err.Error()
		return op
	}
	status, body, kind, err := do(c.http, req)
	op.Return = time.Now()
	switch {
	case err != nil:
		op.Outcome, op.Err = Unknown, err.Error()
	case status == http.StatusOK:
		op.Outcome, op.Value = OK, string(body)
	case kind == "notexist":
		op.Outcome = OK // no file yet: the register's initial ""
	default:
		op.Outcome, op.Err = Failed, fmt.Sprintf("%d %s", status, kind)
	}
	return op
}

// do sends req and returns the status, the body of a 200 and the error
// kind of any other answer.
func do(hc *http.Client, req *http.Request) (int, []byte, string, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, "", err // cut mid-answer
	}
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, b, "", nil
	}
	var e struct {
		Kind string `json:"kind"`
	}
	_ = json.NewDecoder(bytes.NewReader(b)).Decode(&e)
	return resp.StatusCode, nil, e.Kind, nil
}
