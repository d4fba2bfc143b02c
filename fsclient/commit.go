package fsclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"meshfs/member"
)

// maxEdit is the most written bytes a commit sends as an edit (the daemon
// takes at most 256 MiB at an offset, held in memory).
const maxEdit = 64 << 20

// commit sends the file's changes (see Sync). Call with f.mu held.
func (f *File) commit() error {
	cm, edited, err := f.commitEdit()
	if err == nil && !edited {
		cm, err = f.commitWhole()
	}
	if err != nil {
		return pathError("write", f.name, err)
	}
	if int64(cm.Size) != f.size {
		return &fs.PathError{Op: "write", Path: f.name,
			Err: fmt.Errorf("%w: the daemon committed %d bytes, not %d", ErrBadAnswer, cm.Size, f.size)}
	}
	f.base.closeStream()
	f.base = &content{c: f.c, ctx: f.ctx, cid: cm.CID, size: f.size}
	f.baseLimit = f.size
	f.dirty.reset()
	f.changed = false
	f.info.CID, f.info.Size = cm.CID, cm.Size
	return nil
}

// editPlan returns the request that commits the changes as an edit, if
// they are small enough for one (see Sync).
func (f *File) editPlan() (request, bool) {
	if f.base.cid == "" || f.base.size == 0 {
		return request{}, false
	}
	q := url.Values{"arg": {f.path}, "create": {"0"}}
	ext := f.dirty.extents()
	switch {
	case len(ext) == 0 && (f.size <= f.baseLimit || f.baseLimit >= f.base.size):
		// A truncation: what is past baseLimit is cut, or zeros anyway.
		q.Set("size", strconv.FormatInt(f.size, 10))
		return request{method: http.MethodPost, path: apiFS + "truncate", query: q}, true
	case len(ext) == 1 && f.baseLimit >= f.base.size && f.size == max(f.base.size, ext[0].end):
		e := ext[0]
		n := e.end - e.off
		if n > maxEdit || 2*n > f.size {
			return request{}, false
		}
		var body io.Reader
		if e.data != nil {
			body = bytes.NewReader(e.data)
		} else {
			body = io.NewSectionReader(f.dirty.spill, e.off, n)
		}
		q.Set("offset", strconv.FormatInt(e.off, 10))
		return request{method: http.MethodPost, path: apiFS + "write", query: q, body: body, size: n}, true
	}
	return request{}, false
}

// commitEdit sends the changes as an edit if they are small and the file
// still holds the pinned content; edited says whether it did.
func (f *File) commitEdit() (Commit, bool, error) {
	r, ok := f.editPlan()
	if !ok {
		return Commit{}, false, nil
	}
	now, err := f.c.lstat(f.ctx, member.Strong, f.path)
	if err != nil {
		return Commit{}, false, err
	}
	if now.Kind != "file" || now.CID != f.base.cid {
		return Commit{}, false, nil // changed since: send it whole
	}
	cm, err := f.send(r)
	return cm, true, err
}

// commitWhole sends the file's new bytes, whole, to replace its content.
func (f *File) commitWhole() (Commit, error) {
	q := url.Values{"arg": {f.path}, "create": {"0"}}
	return f.send(request{method: http.MethodPost, path: apiFS + "write", query: q, body: &changedReader{f: f}, size: f.size})
}

// send makes the commit request r. Its body is read from the file's state
// while the caller holds f.mu; the guard ends those reads before send
// returns, even if the HTTP transport would read on.
func (f *File) send(r request) (Commit, error) {
	body := &guardedBody{r: r.body}
	defer body.Close()
	r.body = body
	var cm Commit
	err := f.c.call(f.ctx, r, &cm)
	return cm, err
}

// changedReader reads the file as changed, from the start.
type changedReader struct {
	f   *File
	off int64
}

func (r *changedReader) Read(p []byte) (int, error) {
	n, err := r.f.readAt(p, r.off, true)
	r.off += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

// guardedBody is a request body that reads nothing once closed.
type guardedBody struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

func (g *guardedBody) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, io.EOF
	}
	return g.r.Read(p)
}

func (g *guardedBody) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	return nil
}
