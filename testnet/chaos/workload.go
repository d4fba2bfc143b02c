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
	id   int
	apis func() []string // the running daemons' APIs
	http *http.Client
	rng  *rand.Rand
	n    int // values written or appended so far
	keys keySpace
}

// mix weighs the kinds of operations the workload does.
var mix = []struct {
	kind   Kind
	weight int
}{
	{Write, 26}, {Append, 16}, {Read, 20}, {List, 8}, {Mkdir, 6}, {Rename, 14}, {Remove, 10},
}

// childOdds is, for each kind, how often (in quarters) it goes to an x
// rather than a top name: folders are sticky (rm only takes an empty one,
// a write or mkdir into one fills it), so mkdir goes mostly to top names
// and rm often to an x, which keeps files the more common kind.
var childOdds = map[Kind]int{Write: 1, Append: 1, Read: 1, Mkdir: 1, Remove: 2}

// run does operations until ctx ends.
func (c *client) run(ctx context.Context, h *History) {
	for ctx.Err() == nil {
		apis := c.apis()
		if len(apis) == 0 {
			pause(ctx, 10*time.Millisecond) // every daemon is down for a moment: pace the loop
			continue
		}
		h.Add(c.do(ctx, apis[c.rng.IntN(len(apis))], c.next()))
	}
}

// next draws an operation: its kind, folder and names (see childOdds). A
// rename goes from a top name to a top name, from an x to a top name, or
// from an x to an x, within one folder, never from a top name to an x (see
// the model).
func (c *client) next() Op {
	kind := c.pickKind()
	dir := c.rng.IntN(c.keys.Dirs)
	top := func() int { return c.rng.IntN(c.keys.Names) }
	child := func() int { return maxNames + c.rng.IntN(c.keys.Names) }
	op := Op{Client: c.id, Kind: kind}
	switch kind {
	case List:
		op.Path = c.keys.dir(dir)
		return op
	case Rename:
		from, to := top(), top()
		switch c.rng.IntN(5) {
		case 0:
			from = child()
		case 1:
			from, to = child(), child()
		}
		op.Path, op.To = c.keys.path(dir, from), c.keys.path(dir, to)
		return op
	case Write:
		c.n++
		op.Value = fmt.Sprintf("c%d-%d", c.id, c.n)
	case Append:
		c.n++
		op.Value = fmt.Sprintf("+c%d-%d", c.id, c.n)
	}
	slot := top()
	if c.rng.IntN(4) < childOdds[kind] {
		slot = child()
	}
	op.Path = c.keys.path(dir, slot)
	return op
}

// pickKind draws a kind by the weights of mix.
func (c *client) pickKind() Kind {
	total := 0
	for _, m := range mix {
		total += m.weight
	}
	r := c.rng.IntN(total)
	for _, m := range mix {
		if r < m.weight {
			return m.kind
		}
		r -= m.weight
	}
	return mix[len(mix)-1].kind
}

// do sends op through api and records how it ended.
func (c *client) do(ctx context.Context, api string, op Op) Op {
	q := url.Values{"arg": {op.Path}}
	method, call := http.MethodPost, ""
	var body io.Reader
	switch op.Kind {
	case Write:
		call, body = "write", strings.NewReader(op.Value)
	case Append:
		call, body = "write", strings.NewReader(op.Value)
		q.Set("append", "1")
		q.Set("create", "0") // one change (SetContent) or none: no file made on the way
	case Read:
		method, call = http.MethodGet, "cat"
		q.Set("consistency", "strong")
	case List:
		method, call = http.MethodGet, "ls"
		q.Set("consistency", "strong")
	case Mkdir:
		call = "mkdir"
	case Rename:
		call = "mv"
		q["arg"] = append(q["arg"], op.To)
	case Remove:
		call = "rm"
	}
	op.Invoke = time.Now()
	req, err := http.NewRequestWithContext(ctx, method, api+"/api/v0/fs/"+call+"?"+q.Encode(), body)
	if err != nil {
		op.Return, op.Outcome, op.Err = time.Now(), Failed, err.Error()
		return op
	}
	status, resp, kind, err := do(c.http, req)
	op.Return = time.Now()
	op.Outcome, op.Result, op.Err = classify(status, kind, err)
	if op.Outcome != OK || op.Result != "" {
		if op.Kind == Read || op.Kind == List {
			op.Value = ""
		}
		return op
	}
	switch op.Kind {
	case Read:
		op.Value = string(resp)
	case List:
		if op.Value, err = listing(resp); err != nil {
			op.Outcome, op.Err = Failed, err.Error()
		}
	}
	return op
}

// observed are the error kinds that are answers, not refusals: the state
// machine applied (or a strong read met) the operation and said why it
// could not do it. The model must predict them.
var observed = map[string]bool{
	"notexist": true, "exist": true, "notdir": true, "isdir": true, "notempty": true, "invalid": true,
}

// classify tells an answer's outcome: an error kind the model predicts is
// an OK answer (its Result); a timeout, a cut connection, "unknown" or a
// server error with no kind leave the operation open; the rest (nowriter,
// notallowed, closed, conflict: an append that lost its compare-and-set
// every time...) are refusals of an operation that was certainly not
// applied. The kind decides, not the status: a 404 without one is a block
// not found, not a missing file.
func classify(status int, kind string, err error) (Outcome, string, string) {
	switch {
	case err != nil:
		return Unknown, "", err.Error() // sent, maybe applied
	case status == http.StatusOK:
		return OK, "", ""
	case observed[kind]:
		return OK, kind, ""
	case kind == "unknown" || status == http.StatusGatewayTimeout || status >= 500 && kind == "":
		return Unknown, "", fmt.Sprintf("%d %s", status, kind)
	}
	return Failed, "", fmt.Sprintf("%d %s", status, kind)
}

// listing puts an fs/ls answer in the model's form.
func listing(body []byte) (string, error) {
	var ls struct {
		Entries []struct {
			Name string `json:"name"`
			Kind string `json:"kind"`
			Size uint64 `json:"size"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(body, &ls); err != nil {
		return "", fmt.Errorf("ls: %w", err)
	}
	parts := make([]string, 0, len(ls.Entries))
	for _, e := range ls.Entries {
		k := "?" + e.Kind
		switch e.Kind {
		case "file":
			k = "f"
		case "dir":
			k = "d"
		}
		parts = append(parts, fmt.Sprintf("%s:%s%d", e.Name, k, e.Size))
	}
	return strings.Join(parts, ","), nil
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
