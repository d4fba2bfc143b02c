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
		{"uid that is no number", "/api/v0/fs/mkdir?arg=/x&uid=me", "", 400, "badrequest"},
		{"uid -1 on a mkdir", "/api/v0/fs/mkdir?arg=/x&uid=-1", "", 400, "badrequest"},
		{"gid past 32 bits", "/api/v0/fs/write?arg=/x&gid=4294967296", "x", 400, "badrequest"},
		{"gid 2^32-1 on a touch", "/api/v0/fs/touch?arg=/x&gid=4294967295", "", 400, "badrequest"},
		{"chown to 2^32-1", "/api/v0/fs/chown?arg=/f&uid=4294967295", "", 400, "badrequest"},
		{"chown of nothing", "/api/v0/fs/chown?arg=/nothing&uid=1", "", 404, "notexist"},
		{"chown without a path", "/api/v0/fs/chown?uid=1", "", 400, "badrequest"},
	} {
		code, kind := post(tc.path, tc.body)
		if code != tc.code || (tc.code != 200 && kind != tc.kind) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, code, kind, tc.code, tc.kind)
		}
	}
}

// TestFSAPIOwners: the calls that make inodes take ?uid= and ?gid= (0 if
// not given), chown changes them (-1 or none: left as is), stat shows them.
func TestFSAPIOwners(t *testing.T) {
	info := startNamespaceDaemon(t)
	post := func(path string) {
		t.Helper()
		resp, err := http.Post(info.API+"/api/v0/fs/"+path, "application/octet-stream", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s", path, resp.Status)
		}
	}
	for _, p := range []string{
		"mkdir?arg=/d&uid=1000&gid=100",
		"write?arg=/d/f&uid=1001&gid=101",
		"write?arg=/p/q/f&parents=1&uid=1002",
		"write?arg=/e&offset=0&uid=1003&gid=103",
		"symlink?arg=f&arg=/d/l&gid=104",
		"touch?arg=/t&uid=1005&gid=105",
		"write?arg=/plain",
		"chown?arg=/plain&uid=7",
		"chown?arg=/d/f&uid=-1&gid=8",
		"write?arg=/d/f&uid=1&gid=1", // the content only: the owner stays
	} {
		post(p)
	}
	for p, want := range map[string][2]uint32{
		"/": {0, 0}, "/d": {1000, 100}, "/d/f": {1001, 8}, "/p": {1002, 0}, "/p/q/f": {1002, 0},
		"/e": {1003, 103}, "/d/l": {0, 104}, "/t": {1005, 105}, "/plain": {7, 0},
	} {
		resp, err := http.Get(info.API + "/api/v0/fs/stat?arg=" + p)
		if err != nil {
			t.Fatal(err)
		}
		var st fsInfo
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("stat %s: %+v %v, want owner %d:%d", p, st, err, want[0], want[1])
		}
	}
}
