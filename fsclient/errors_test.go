package fsclient

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"meshfs/member"
	"meshfs/namespace"
)

// fakeAPI answers every request with status and body.
func fakeAPI(t *testing.T, status int, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		is       error
		pathErr  bool   // the daemon's answer names an op and path
		contains string // in err.Error()
	}{
		{"not exist", 404, `{"error":"stat /a: file does not exist","kind":"notexist","op":"stat","path":"/a"}`, fs.ErrNotExist, true, "stat a: file does not exist"},
		{"exist", 409, `{"error":"create /a: file already exists","kind":"exist","op":"create","path":"/a"}`, fs.ErrExist, true, "file already exists"},
		{"not dir", 409, `{"error":"stat /f/x: not a directory","kind":"notdir","op":"stat","path":"/f/x"}`, namespace.ErrNotDir, true, "not a directory"},
		{"is dir", 409, `{"error":"cat /d: is a directory","kind":"isdir","op":"cat","path":"/d"}`, namespace.ErrIsDir, true, "is a directory"},
		{"not empty", 409, `{"error":"rmdir /d: directory not empty","kind":"notempty","op":"rmdir","path":"/d"}`, namespace.ErrNotEmpty, true, "not empty"},
		{"conflict", 409, `{"error":"write /a: content changed","kind":"conflict","op":"write","path":"/a"}`, namespace.ErrConflict, true, "content changed"},
		{"more than the kind", 400, `{"error":"create /a: invalid argument: unsupported CID","kind":"invalid","op":"create","path":"/a"}`, fs.ErrInvalid, true, "unsupported CID"},
		{"no writer", 503, `{"error":"no namespace writer reachable","kind":"nowriter"}`, member.ErrNoWriter, false, "no namespace writer"},
		{"not allowed", 403, `{"error":"peer X: not allowed to change this namespace","kind":"notallowed"}`, member.ErrNotAllowed, false, "peer X"},
		{"unknown outcome", 504, `{"error":"outcome unknown","kind":"unknown"}`, member.ErrUnknownOutcome, false, "outcome unknown"},
		{"no namespace", 503, `{"error":"this peer serves no namespace (start the daemon with --voters)","kind":""}`, ErrNoNamespace, false, "serves no namespace"},
		{"no kind", 500, `{"error":"disk on fire"}`, nil, false, "disk on fire"},
		{"not JSON", 502, `bad gateway`, nil, false, "bad gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fakeAPI(t, tt.status, tt.body)
			_, err := c.Stat(context.Background(), "a")
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%v: not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("%q does not say %q", err, tt.contains)
			}
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Op != "stat" || pe.Path != "a" {
				t.Errorf("%#v: want a *fs.PathError for stat a", err)
			}
			var ae *Error
			if errors.As(err, &ae) && ae.Status != tt.status {
				t.Errorf("status %d, want %d", ae.Status, tt.status)
			}
			if !tt.pathErr && !errors.As(err, &ae) {
				t.Errorf("%#v: want an *Error inside", err)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name string
		url  string
		opts []Option
		ok   bool
	}{
		{"plain", "http://127.0.0.1:5101", nil, true},
		{"trailing slash", "http://127.0.0.1:5101/", nil, true},
		{"no scheme", "127.0.0.1:5101", nil, false},
		{"ftp", "ftp://127.0.0.1", nil, false},
		{"every option", "http://h", []Option{WithHTTPClient(&http.Client{}), WithConsistency(member.Sequential),
			WithRequestHook(func(*http.Request) error { return nil }), WithMemoryLimit(1)}, true},
		{"twice", "http://h", []Option{WithConsistency(member.Eventual), WithConsistency(member.Strong)}, false},
		{"bad level", "http://h", []Option{WithConsistency("linear")}, false},
		{"nil client", "http://h", []Option{WithHTTPClient(nil)}, false},
		{"negative limit", "http://h", []Option{WithMemoryLimit(-1)}, false},
	}
	for _, tt := range tests {
		_, err := New(tt.url, tt.opts...)
		if (err == nil) != tt.ok {
			t.Errorf("%s: New: %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestRequestHookAndLevel(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, `{"path":"/a","name":"a","kind":"file","mode":"0640","size":3,"mtime_ns":1000000000}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, WithConsistency(member.Eventual), WithRequestHook(func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer x")
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Lstat(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Header.Get("Authorization") != "Bearer x" || got.URL.Query().Get("consistency") != "eventual" || got.URL.Query().Get("arg") != "/a" {
		t.Errorf("request %v %v", got.URL, got.Header)
	}
	if info.Name() != "a" || info.Mode() != 0o640 || info.Size() != 3 || info.ModTime().Unix() != 1 {
		t.Errorf("info %v", info)
	}
	hookErr := errors.New("no token")
	c, _ = New(srv.URL, WithRequestHook(func(*http.Request) error { return hookErr }))
	if _, err := c.Lstat(context.Background(), "a"); !errors.Is(err, hookErr) {
		t.Errorf("hook error: %v", err)
	}
}
