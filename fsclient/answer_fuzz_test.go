package fsclient

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"testing"
	"time"
)

// answerTransport answers every request with status and body, without a
// network: a daemon, or something posing as one, saying anything.
type answerTransport struct {
	status int
	body   []byte
}

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: a.status, Status: http.StatusText(a.status), Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(a.body)), ContentLength: -1, Request: r,
	}, nil
}

// FuzzDecodeAnswers: whatever JSON (or not) a daemon answers to the
// client's calls (stat, list, readlink, root, writer, write, mkdir,
// rename) becomes a result or an error, never a panic; an answer with
// status 200 that is not the JSON asked for is ErrBadAnswer (or a path
// error, when it describes something the call cannot use).
func FuzzDecodeAnswers(f *testing.F) {
	f.Add([]byte(`{"name":"x","kind":"file","mode":420,"size":3,"mtime_ns":1,"cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"}`), 200)
	f.Add([]byte(`{"entries":[{"name":"a","kind":"dir"},{"name":"b","kind":"symlink","target":"a"}]}`), 200)
	f.Add([]byte(`{"index":7,"term":2,"path":"/x","cid":"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku","size":0}`), 200)
	f.Add([]byte(`{"root":"bafy","index":1,"term":1}`), 200)
	f.Add([]byte(`[1,2,3]`), 200)
	f.Add([]byte(`{"error":"nope","kind":"nowriter"}`), 503)
	f.Add([]byte(""), 200)
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		if status < 100 || status > 599 {
			return
		}
		c, err := New("http://127.0.0.1:1", WithHTTPClient(&http.Client{Transport: answerTransport{status, body}}))
		if err != nil {
			t.Fatal(err)
		}
		// A refusal the client retries (no writer yet) ends with ctx.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		check := func(call string, err error) {
			t.Helper()
			var pe *fs.PathError
			if status == http.StatusOK && err != nil && !errors.Is(err, ErrBadAnswer) && !errors.As(err, &pe) {
				t.Fatalf("%s: a 200 answer gave %v, want a result, ErrBadAnswer or a path error", call, err)
			}
			if status != http.StatusOK && err == nil {
				t.Fatalf("%s: status %d gave no error", call, status)
			}
		}
		_, err = c.Stat(ctx, "/x")
		check("stat", err)
		_, err = c.ReadDir(ctx, "/d")
		check("readdir", err)
		_, err = c.Readlink(ctx, "/l")
		check("readlink", err)
		_, err = c.Root(ctx)
		check("root", err)
		_, err = c.Writer(ctx)
		check("writer", err)
		_, err = c.Write(ctx, "/w", bytes.NewReader([]byte("abc")), WriteOptions{})
		check("write", err)
		check("mkdir", c.Mkdir(ctx, "/m", 0o755))
		check("rename", c.Rename(ctx, "/a", "/b"))
	})
}
