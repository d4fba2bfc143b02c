package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestFSAPIRefusesBadInput checks the namespace API's answers to bad and
// conditional requests: the status and the error kind.
func TestFSAPIRefusesBadInput(t *testing.T) {
	info := startNamespaceDaemon(t)
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(info.API+path, "application/octet-stream", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Kind string `json:"kind"`
			CID  string `json:"cid"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode == http.StatusOK {
			return resp.StatusCode, e.CID
		}
		return resp.StatusCode, e.Kind
	}
	_, first := post("/api/v0/fs/write?arg=/f", "one")
	for _, tc := range []struct {
		name, path, body string
		code             int
		kind             string
	}{
		{"voter that is no peer ID", "/api/v0/fs/voters?arg=typo", "", 400, "badrequest"},
		{"allow of no peer ID", "/api/v0/fs/allow?arg=typo", "", 400, "badrequest"},
		{"negative offset", "/api/v0/fs/write?arg=/f&offset=-1", "x", 400, "badrequest"},
		{"offset and append", "/api/v0/fs/write?arg=/f&offset=0&append=1", "x", 400, "badrequest"},
		{"touch without create", "/api/v0/fs/touch?arg=/nothing&create=0", "", 404, "notexist"},
		{"write if empty, but it is not", "/api/v0/fs/write?arg=/f&ifempty=1", "two", 409, "conflict"},
		{"write if prev, another prev", "/api/v0/fs/write?arg=/f&prev=bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "two", 409, "conflict"},
		{"write if prev, the right one", "/api/v0/fs/write?arg=/f&prev=" + first, "two", 200, ""},
		{"truncate a directory", "/api/v0/fs/truncate?arg=/&size=0", "", 409, "isdir"},
	} {
		code, kind := post(tc.path, tc.body)
		if code != tc.code || (tc.code != 200 && kind != tc.kind) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, kind, tc.code, tc.kind)
		}
	}
}
