package fsclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"

	"meshfs/member"
	"meshfs/namespace"
)

var (
	// ErrNoNamespace reports a daemon that serves no namespace (one started
	// without --voters).
	ErrNoNamespace = errors.New("fsclient: the daemon serves no namespace")
	// ErrSymlinkLoop reports a path whose symbolic links lead on for more
	// than 40 hops.
	ErrSymlinkLoop = errors.New("fsclient: too many levels of symbolic links")
	// ErrAccessMode reports a read from a file opened write-only, or a
	// write to one opened read-only.
	ErrAccessMode = errors.New("fsclient: not allowed by the file's open mode")
	// ErrBadAnswer reports an answer from the daemon that does not make
	// sense (malformed JSON, content of the wrong size).
	ErrBadAnswer = errors.New("fsclient: bad answer from the daemon")
)

// Error is an error answer from the daemon's API that names no path, or
// whose message says more than its kind: its HTTP status, its kind
// ("notexist", "nowriter", ...; "" for none) and its message. It unwraps
// to the sentinel its kind names (see member.KindError), so errors.Is
// works on it.
type Error struct {
	Status  int    // HTTP status code
	Kind    string // the API's error kind, "" if none
	Message string // the daemon's message
	err     error  // the sentinel Kind names, nil if none
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel the error's kind names, or nil.
func (e *Error) Unwrap() error { return e.err }

// apiError is the JSON of an error answer.
type apiError struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
	Op    string `json:"op"`
	Path  string `json:"path"`
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// decodeError turns an error answer into an error: a *fs.PathError
// wrapping the kind's sentinel when the answer names an operation and a
// path, an *Error otherwise.
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var a apiError
	if json.Unmarshal(b, &a) != nil || a.Error == "" {
		msg := strings.TrimSpace(string(b))
		if msg == "" || len(msg) > 200 {
			msg = resp.Status
		}
		return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s", resp.Request.Method, resp.Request.URL.Path, msg)}
	}
	sentinel := member.KindError(a.Kind)
	if sentinel == nil && (a.Kind == "nonamespace" || a.Kind == "" && strings.Contains(a.Error, "serves no namespace")) {
		// The daemon sends no kind for this one; its message is stable.
		sentinel = ErrNoNamespace
	}
	if a.Op == "" || sentinel == nil {
		return &Error{Status: resp.StatusCode, Kind: a.Kind, Message: a.Error, err: sentinel}
	}
	pe := &fs.PathError{Op: a.Op, Path: a.Path, Err: sentinel}
	if pe.Error() != a.Error {
		// The message says more than the kind: keep it, without the
		// "op path: " the PathError adds again.
		pe.Err = &Error{Status: resp.StatusCode, Kind: a.Kind, Message: strings.TrimPrefix(a.Error, a.Op+" "+a.Path+": "), err: sentinel}
	}
	return pe
}

// pathError returns err as a *fs.PathError for op on name: the error of a
// request made for the caller's op, reported with the caller's name.
func pathError(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// linkError returns err as an *os.LinkError for op on the two names.
func linkError(op, oldname, newname string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &os.LinkError{Op: op, Old: oldname, New: newname, Err: err}
}

// Unexported errors with their sentinels.
var (
	errIsDir          = namespace.ErrIsDir
	errNotDir         = namespace.ErrNotDir
	errNegativeOffset = fmt.Errorf("%w: negative offset", fs.ErrInvalid)
	errAppendWriteAt  = fmt.Errorf("%w: WriteAt on a file opened with O_APPEND", fs.ErrInvalid)
	errNoPeer         = fmt.Errorf("fsclient: no peer ID: %w", fs.ErrInvalid)
)
