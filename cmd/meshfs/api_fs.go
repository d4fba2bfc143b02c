package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
	"meshfs/member"
	"meshfs/namespace"
	"meshfs/peer/nslink"
)

// The namespace's HTTP API, under /api/v0/fs/. Paths are in ?arg= (two
// for mv and symlink); reads take ?consistency=strong|sequential|eventual
// (strong by default). The calls that make inodes (mkdir, write, symlink,
// touch) take their owner as ?uid= and ?gid=, decimal; either missing is
// 0, root. The API does not check who may do what: a client that serves
// several users (the mount) checks, or lets the kernel check, first.
// Answers are JSON except cat's (the file's bytes).
// Errors are {"error", "kind", "op", "path"}, kind naming the POSIX-like
// error (notexist, exist, notdir, isdir, notempty, conflict, invalid,
// notallowed, nowriter, unknown, ...).
const apiFS = "/api/v0/fs/"

// fsInfo is an inode as the API shows it.
type fsInfo struct {
	Path    string `json:"path"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Mode    string `json:"mode"` // permission bits, octal
	Uid     uint32 `json:"uid"`
	Gid     uint32 `json:"gid"`
	Size    uint64 `json:"size"`
	Mtime   string `json:"mtime"` // RFC 3339, nanoseconds
	MtimeNS int64  `json:"mtime_ns"`
	CID     string `json:"cid"` // file content ("" for an empty file)
	Ino     uint64 `json:"ino,omitempty"`
	Target  string `json:"target,omitempty"`
}

func toFSInfo(i member.Info) fsInfo {
	return fsInfo{
		Path: i.Path, Name: i.Name, Kind: i.Kind, Mode: fmt.Sprintf("%04o", i.Mode.Perm()),
		Uid: i.Uid, Gid: i.Gid, Size: i.Size, Mtime: time.Unix(0, i.Mtime).UTC().Format(time.RFC3339Nano), MtimeNS: i.Mtime,
		CID: i.CID, Ino: i.Ino, Target: i.Target,
	}
}

// fsCommit is the answer to a change.
type fsCommit struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	Path  string `json:"path,omitempty"`
	CID   string `json:"cid,omitempty"`
	Size  uint64 `json:"size,omitempty"`
}

func (a *api) routeFS(mux *http.ServeMux) {
	for name, h := range map[string]http.HandlerFunc{
		"GET stat":      a.fsStat,
		"GET ls":        a.fsList,
		"GET cat":       a.fsCat,
		"GET root":      a.fsRoot,
		"GET writer":    a.fsWriter,
		"POST mkdir":    a.fsMkdir,
		"POST write":    a.fsWrite,
		"POST truncate": a.fsTruncate,
		"POST mv":       a.fsMove,
		"POST rm":       a.fsRemove,
		"POST symlink":  a.fsSymlink,
		"POST chmod":    a.fsChmod,
		"POST chown":    a.fsChown,
		"POST touch":    a.fsTouch,
		"POST allow":    a.fsAccess(false),
		"POST deny":     a.fsAccess(true),
		"POST voters":   a.fsVoters,
	} {
		method, rest, _ := strings.Cut(name, " ")
		mux.HandleFunc(method+" "+apiFS+rest, a.needNS(h))
	}
}

var errNoNamespace = errors.New("this peer serves no namespace (start the daemon with --voters)")

// fsRequestTimeout is the default bound on a namespace request that carries
// no file bytes (fs_timeout, --fs-timeout): without a quorum a strong read
// or a change would wait forever.
const fsRequestTimeout = 60 * time.Second

// nsContext bounds one namespace call of a request that also moves file
// bytes (whose transfer the bound must not cut).
func (a *api) nsContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.fsTimeout)
}

// needNS refuses namespace requests on a peer that serves none, and bounds
// the time of those that move no file bytes.
func (a *api) needNS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.ns == nil {
			fsError(w, errNoNamespace)
			return
		}
		switch path.Base(r.URL.Path) {
		case "write", "truncate", "cat":
		default:
			ctx, cancel := context.WithTimeout(r.Context(), a.fsTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		h(w, r)
	}
}

// fsError writes a namespace error with its kind.
func fsError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	kind := member.ErrorKind(err)
	switch kind {
	case "notexist":
		code = http.StatusNotFound
	case "exist", "notdir", "isdir", "notempty", "conflict":
		code = http.StatusConflict
	case "invalid", "badrequest", "badop":
		code = http.StatusBadRequest
	case "notallowed", "permission":
		code = http.StatusForbidden
	case "nowriter", "closed":
		code = http.StatusServiceUnavailable
	case "unknown":
		code = http.StatusGatewayTimeout
	}
	switch {
	case errors.Is(err, errBadRequest):
		code, kind = http.StatusBadRequest, "badrequest"
	case errors.Is(err, errNoNamespace):
		code, kind = http.StatusServiceUnavailable, "nonamespace"
	case kind == "" && errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	case kind == "":
		apiError(w, err)
		return
	}
	body := map[string]string{"error": err.Error(), "kind": kind}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		body["op"], body["path"] = pe.Op, pe.Path
	}
	writeJSON(w, code, body)
}

// pathArg returns the n-th ?arg= as an absolute, clean path.
func pathArg(r *http.Request, n int) (string, error) {
	args := r.URL.Query()["arg"]
	if len(args) <= n || args[n] == "" {
		return "", badRequest("missing ?arg=PATH")
	}
	if args[n][0] != '/' {
		return "", badRequest("path %q: want an absolute path", args[n])
	}
	return args[n], nil
}

func levelArg(r *http.Request) (member.Level, error) {
	l, err := member.ParseLevel(r.URL.Query().Get("consistency"))
	if err != nil {
		return "", badRequest("%v", err)
	}
	return l, nil
}

func boolArg(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

func modeArg(r *http.Request, def fs.FileMode) (fs.FileMode, error) {
	s := r.URL.Query().Get("mode")
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return 0, badRequest("mode=%q: want octal permission bits like 0644", s)
	}
	return fs.FileMode(v), nil
}

// idArg returns the uid or gid in ?name=, decimal; keep (none given, or
// -1) is namespace.KeepID.
func idArg(r *http.Request, name string, keep uint32) (uint32, error) {
	s := r.URL.Query().Get(name)
	if s == "" || s == "-1" && keep == namespace.KeepID {
		return keep, nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || uint32(v) == namespace.KeepID {
		return 0, badRequest("%s=%q: want a number from 0 to %d", name, s, namespace.KeepID-1)
	}
	return uint32(v), nil
}

// owner is who owns what a request makes.
type owner struct{ uid, gid uint32 }

// ownerArg returns the owner of what a request makes: ?uid= and ?gid=,
// each 0 (root) if not given.
func ownerArg(r *http.Request) (owner, error) {
	uid, err := idArg(r, "uid", 0)
	gid, gerr := idArg(r, "gid", 0)
	return owner{uid, gid}, errors.Join(err, gerr)
}

// readArgs returns a read's path and consistency level.
func readArgs(r *http.Request) (string, member.Level, error) {
	p, err := pathArg(r, 0)
	level, lerr := levelArg(r)
	return p, level, errors.Join(err, lerr)
}

func (a *api) fsStat(w http.ResponseWriter, r *http.Request) {
	p, level, err := readArgs(r)
	if err != nil {
		fsError(w, err)
		return
	}
	info, err := a.ns.Stat(r.Context(), level, p)
	if err != nil {
		fsError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toFSInfo(info))
}

func (a *api) fsList(w http.ResponseWriter, r *http.Request) {
	p, level, err := readArgs(r)
	if err != nil {
		fsError(w, err)
		return
	}
	entries, err := a.ns.List(r.Context(), level, p)
	if err != nil {
		fsError(w, err)
		return
	}
	out := make([]fsInfo, len(entries))
	for i, e := range entries {
		out[i] = toFSInfo(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": p, "entries": out})
}

// fsCat streams a file's bytes (a range with ?offset= and ?length=), read
// at the consistency asked, verified block by block.
func (a *api) fsCat(w http.ResponseWriter, r *http.Request) {
	p, level, err := readArgs(r)
	if err != nil {
		fsError(w, err)
		return
	}
	ctx, cancel := a.nsContext(r)
	info, err := a.ns.Stat(ctx, level, p)
	cancel()
	if err != nil {
		fsError(w, err)
		return
	}
	if info.Kind == "dir" {
		fsError(w, &fs.PathError{Op: "cat", Path: p, Err: namespace.ErrIsDir})
		return
	}
	if info.Kind != "file" {
		fsError(w, &fs.PathError{Op: "cat", Path: p, Err: fs.ErrInvalid})
		return
	}
	w.Header().Set(headerCID, info.CID)
	c := info.ContentCID()
	if !c.Defined() {
		w.Header().Set(headerSize, "0")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	a.serveFile(w, r, c)
}

// headerCID carries a file's content CID before its bytes on fs/cat.
const headerCID = "X-Meshfs-Cid"

func (a *api) fsRoot(w http.ResponseWriter, r *http.Request) {
	level, err := levelArg(r)
	if err != nil {
		fsError(w, err)
		return
	}
	root, err := a.ns.Root(r.Context(), level)
	if err != nil {
		fsError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cid": root.CID.String(), "term": root.Term, "index": root.Index, "writer": root.Writer})
}

func (a *api) fsWriter(w http.ResponseWriter, r *http.Request) {
	v, err := a.ns.Writer(r.Context())
	if err != nil {
		fsError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"namespace": v.Namespace, "writer": v.Writer, "term": v.Term, "voters": v.Voters,
		"self": v.Self, "voter": v.Voter, "applied": v.Applied, "published": v.Published,
	})
}

// change applies op and answers with the commit.
func (a *api) change(w http.ResponseWriter, r *http.Request, op namespace.Op) {
	c, err := a.ns.Do(r.Context(), op)
	if err != nil {
		fsError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, fsCommit{Index: c.Index, Term: c.Term})
}

func (a *api) fsMkdir(w http.ResponseWriter, r *http.Request) {
	p, err := pathArg(r, 0)
	mode, merr := modeArg(r, 0o755)
	o, oerr := ownerArg(r)
	if err = errors.Join(err, merr, oerr); err != nil {
		fsError(w, err)
		return
	}
	a.change(w, r, namespace.Mkdir{Path: p, Perm: mode, Uid: o.uid, Gid: o.gid, Mtime: a.now().UnixNano(), Parents: boolArg(r, "parents")})
}

func (a *api) fsMove(w http.ResponseWriter, r *http.Request) {
	from, err := pathArg(r, 0)
	to, terr := pathArg(r, 1)
	if err = errors.Join(err, terr); err != nil {
		fsError(w, err)
		return
	}
	a.change(w, r, namespace.Rename{From: from, To: to, Mtime: a.now().UnixNano(), NoReplace: boolArg(r, "noreplace")})
}

// fsRemove removes a file or symbolic link, or a directory (empty, or with
// ?recursive=1 everything in it).
func (a *api) fsRemove(w http.ResponseWriter, r *http.Request) {
	p, err := pathArg(r, 0)
	if err != nil {
		fsError(w, err)
		return
	}
	now := a.now().UnixNano()
	c, err := a.ns.Do(r.Context(), namespace.Unlink{Path: p, Mtime: now})
	if errors.Is(err, namespace.ErrIsDir) {
		c, err = a.ns.Do(r.Context(), namespace.Rmdir{Path: p, Mtime: now, Recursive: boolArg(r, "recursive")})
	}
	if err != nil {
		fsError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, fsCommit{Index: c.Index, Term: c.Term})
}

func (a *api) fsSymlink(w http.ResponseWriter, r *http.Request) {
	args := r.URL.Query()["arg"]
	if len(args) != 2 || args[0] == "" {
		fsError(w, badRequest("want ?arg=TARGET&arg=PATH"))
		return
	}
	p, err := pathArg(r, 1)
	o, oerr := ownerArg(r)
	if err = errors.Join(err, oerr); err != nil {
		fsError(w, err)
		return
	}
	a.change(w, r, namespace.Symlink{Path: p, Target: args[0], Uid: o.uid, Gid: o.gid, Mtime: a.now().UnixNano()})
}

func (a *api) fsChmod(w http.ResponseWriter, r *http.Request) {
	p, err := pathArg(r, 0)
	if err != nil {
		fsError(w, err)
		return
	}
	if r.URL.Query().Get("mode") == "" {
		fsError(w, badRequest("missing ?mode=OCTAL"))
		return
	}
	mode, err := modeArg(r, 0)
	if err != nil {
		fsError(w, err)
		return
	}
	a.change(w, r, namespace.Chmod{Path: p, Perm: mode})
}

// fsChown sets the owner (?uid=) and group (?gid=) of a path, a symbolic
// link itself; one missing, or -1, is left as it is.
func (a *api) fsChown(w http.ResponseWriter, r *http.Request) {
	p, err := pathArg(r, 0)
	uid, uerr := idArg(r, "uid", namespace.KeepID)
	gid, gerr := idArg(r, "gid", namespace.KeepID)
	if err = errors.Join(err, uerr, gerr); err != nil {
		fsError(w, err)
		return
	}
	a.change(w, r, namespace.Chown{Path: p, Uid: uid, Gid: gid})
}

// fsTouch sets a modification time (?mtime= RFC 3339, default now),
// making an empty file if nothing is there (unless ?create=0).
func (a *api) fsTouch(w http.ResponseWriter, r *http.Request) {
	p, err := pathArg(r, 0)
	o, oerr := ownerArg(r)
	if err = errors.Join(err, oerr); err != nil {
		fsError(w, err)
		return
	}
	t := a.now()
	if s := r.URL.Query().Get("mtime"); s != "" {
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			fsError(w, badRequest("mtime=%q: want RFC 3339", s))
			return
		}
	}
	a.change(w, r, namespace.Touch{Path: p, Uid: o.uid, Gid: o.gid, Mtime: t.UnixNano(), NoCreate: r.URL.Query().Get("create") == "0"})
}

// fsAccess lets a peer change the tree (or, with deny, stops it); "*" is
// any peer.
func (a *api) fsAccess(deny bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("arg")
		if p == "" {
			fsError(w, badRequest("missing ?arg=PEER-ID (or * for any peer)"))
			return
		}
		if p != namespace.AnyPeer {
			if err := peerIDArg(p); err != nil {
				fsError(w, err)
				return
			}
		}
		if deny {
			a.change(w, r, namespace.Deny{Peer: p})
		} else {
			a.change(w, r, namespace.Allow{Peer: p})
		}
	}
}

func (a *api) fsVoters(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Query().Get("arg")
	if err := peerIDArg(p); err != nil {
		fsError(w, err)
		return
	}
	c, err := a.ns.SetVoter(r.Context(), p, boolArg(r, "remove"))
	if err != nil {
		fsError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, fsCommit{Index: c.Index, Term: c.Term})
}

// peerIDArg refuses what is not a peer ID.
func peerIDArg(s string) error {
	if s == "" {
		return badRequest("missing ?arg=PEER-ID")
	}
	if _, err := peer.Decode(s); err != nil {
		return badRequest("%q is not a peer ID: %v", s, err)
	}
	return nil
}

// fsWrite writes the request body into a file: replacing its content (the
// default), at ?offset=N, or at its end with ?append=1. The blocks go into
// the mesh first; then one operation names the new content. A missing file
// is created (?mode=, default 0644; ?uid= and ?gid=) unless ?create=0;
// ?parents=1 makes missing directories (mode 0755, the same owner);
// ?exclusive=1 fails if the file exists.
func (a *api) fsWrite(w http.ResponseWriter, r *http.Request) {
	p, err := pathArg(r, 0)
	mode, merr := modeArg(r, 0o644)
	off, oerr := intArg(r, "offset", -1)
	own, owerr := ownerArg(r)
	if err = errors.Join(err, merr, oerr, owerr); err != nil {
		fsError(w, err)
		return
	}
	q := r.URL.Query()
	appendMode := boolArg(r, "append")
	switch {
	case appendMode && q.Has("offset"):
		fsError(w, badRequest("give ?offset= or ?append=1, not both"))
		return
	case q.Has("offset") && off < 0:
		fsError(w, badRequest("offset=%d: want 0 or more", off))
		return
	}
	// ?prev=CID or ?ifempty=1: replace the content only if the file still
	// holds that (a compare-and-set for read-modify-write clients).
	var prev cid.Cid
	if s := q.Get("prev"); s != "" {
		if prev, err = content.ParseCID(s); err != nil {
			fsError(w, badRequest("prev=%q: %v", s, err))
			return
		}
	}
	ifEmpty := boolArg(r, "ifempty")
	if (prev.Defined() || ifEmpty) && (off >= 0 || appendMode) {
		fsError(w, badRequest("prev and ifempty go with whole-content writes"))
		return
	}
	if boolArg(r, "parents") {
		ctx, cancel := a.nsContext(r)
		_, err := a.ns.Do(ctx, namespace.Mkdir{Path: path.Dir(p), Perm: 0o755, Uid: own.uid, Gid: own.gid, Mtime: a.now().UnixNano(), Parents: true})
		cancel()
		if err != nil {
			fsError(w, err)
			return
		}
	}
	if off < 0 && !appendMode {
		// Whole content: stream the body into the mesh, then name it; its
		// blocks stay leased at their homes until the operation is done.
		leaser := a.node.NewLeaser()
		root, err := content.Import(r.Context(), r.Body, leaser, content.ImportOptions{Parallel: 64})
		if err != nil {
			leaser.Done()
			fsError(w, fmt.Errorf("write %s: %w", p, err))
			return
		}
		var op namespace.Op = namespace.Create{
			Path: p, Perm: mode, Uid: own.uid, Gid: own.gid, Mtime: a.now().UnixNano(), CID: root.CID, Size: root.FileSize,
			Tsize: root.Tsize, Exclusive: boolArg(r, "exclusive"),
		}
		if q.Get("create") == "0" || prev.Defined() || ifEmpty {
			op = namespace.SetContent{Path: p, CID: root.CID, Size: root.FileSize, Tsize: root.Tsize, Mtime: a.now().UnixNano(), Prev: prev, IfEmpty: ifEmpty}
		}
		ctx, cancel := a.nsContext(r)
		c, err := a.ns.Do(ctx, op)
		cancel()
		if err = nslink.EndWrite(r.Context(), leaser, c, err, "write "+p); err != nil {
			fsError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, fsCommit{Index: c.Index, Term: c.Term, Path: p, CID: root.CID.String(), Size: root.FileSize})
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxEditBytes+1))
	if err != nil {
		fsError(w, err)
		return
	}
	if len(data) > maxEditBytes {
		fsError(w, badRequest("a write at an offset takes at most %d bytes; write the whole file instead", maxEditBytes))
		return
	}
	a.edit(w, r, "write", p, mode, own, q.Get("create") != "0", func(ctx context.Context, dst content.BlockPutter, old cid.Cid, size uint64) (content.FileRoot, error) {
		at := off
		if appendMode {
			at = int64(size)
		}
		return content.WriteAt(ctx, a.node, dst, old, at, data, content.ImportOptions{})
	})
}

// maxEditAttempts bounds how often an edit starts again because the file
// changed under it.
const maxEditAttempts = 16

// maxEditBytes bounds the body of a write at an offset (held in memory).
const maxEditBytes = 256 << 20

// fsTruncate sets a file's size (?size=N), cutting or zero-filling.
func (a *api) fsTruncate(w http.ResponseWriter, r *http.Request) {
	p, err := pathArg(r, 0)
	size, serr := intArg(r, "size", -1)
	if err = errors.Join(err, serr); err != nil {
		fsError(w, err)
		return
	}
	if size < 0 {
		fsError(w, badRequest("missing ?size=N"))
		return
	}
	a.edit(w, r, "truncate", p, 0o644, owner{}, false, func(ctx context.Context, dst content.BlockPutter, old cid.Cid, _ uint64) (content.FileRoot, error) {
		return content.Truncate(ctx, a.node, dst, old, size, content.ImportOptions{})
	})
}

// edit changes part of a file: it reads the file's content CID (strong),
// builds the new content from it, and sets it only if the file still holds
// what was read, trying again when another change came first. A missing
// file is made first (mode, owned by own) if create.
func (a *api) edit(w http.ResponseWriter, r *http.Request, op, p string, mode fs.FileMode, own owner, create bool,
	change func(ctx context.Context, dst content.BlockPutter, old cid.Cid, size uint64) (content.FileRoot, error)) {
	ctx, cancel := a.nsContext(r)
	defer cancel()
	for attempt := 0; attempt < maxEditAttempts; attempt++ {
		info, err := a.ns.Stat(ctx, member.Strong, p)
		if errors.Is(err, fs.ErrNotExist) && create {
			_, err = a.ns.Do(ctx, namespace.Create{Path: p, Perm: mode, Uid: own.uid, Gid: own.gid, Mtime: a.now().UnixNano(), Exclusive: true})
			if err == nil || errors.Is(err, fs.ErrExist) {
				continue
			}
		}
		switch {
		case err != nil:
		case info.Kind == "dir":
			err = &fs.PathError{Op: op, Path: p, Err: namespace.ErrIsDir}
		case info.Kind != "file":
			err = &fs.PathError{Op: op, Path: p, Err: fs.ErrInvalid}
		}
		if err != nil {
			fsError(w, err)
			return
		}
		old := info.ContentCID()
		leaser := a.node.NewLeaser()
		root, err := change(ctx, leaser, old, info.Size)
		if err != nil {
			leaser.Done()
			fsError(w, fmt.Errorf("%s %s: %w", op, p, err))
			return
		}
		set := namespace.SetContent{Path: p, CID: root.CID, Size: root.FileSize, Tsize: root.Tsize,
			Mtime: a.now().UnixNano(), Prev: old, IfEmpty: !old.Defined()}
		c, err := a.ns.Do(ctx, set)
		err = nslink.EndWrite(ctx, leaser, c, err, op+" "+p)
		if errors.Is(err, namespace.ErrConflict) {
			continue
		}
		if err != nil {
			fsError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, fsCommit{Index: c.Index, Term: c.Term, Path: p, CID: root.CID.String(), Size: root.FileSize})
		return
	}
	fsError(w, &fs.PathError{Op: op, Path: p, Err: fmt.Errorf("%w: changed by others %d times while this edit was made", namespace.ErrConflict, maxEditAttempts)})
}
