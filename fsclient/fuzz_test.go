package fsclient

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"testing"
)

// FuzzDecodeError: whatever a daemon (or something posing as one) answers
// with an error status becomes an error, never a panic, and a path error
// always names a sentinel.
func FuzzDecodeError(f *testing.F) {
	f.Add([]byte(`{"error":"stat /x: file does not exist","kind":"notexist","op":"stat","path":"/x"}`), 404)
	f.Add([]byte(`{"error":"peer x: not allowed","kind":"notallowed"}`), 403)
	f.Add([]byte(`{"error":"this peer serves no namespace","kind":"nonamespace"}`), 503)
	f.Add([]byte("plain text"), 500)
	f.Add([]byte(`{"error":""}`), 400)
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		resp := &http.Response{
			StatusCode: status, Status: http.StatusText(status), Body: io.NopCloser(bytes.NewReader(body)),
			Request: &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/api/v0/fs/stat"}},
		}
		err := decodeError(resp)
		if err == nil {
			t.Fatal("no error from an error answer")
		}
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Err == nil {
			t.Fatalf("a path error without a cause: %v", err)
		}
	})
}
