package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPIBeyondLoopbackNeedsTheToken(t *testing.T) {
	info := startDaemon(t, "--api", "0.0.0.0:0")
	u, err := url.Parse(info.API)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://127.0.0.1:" + u.Port()
	b, err := os.ReadFile(filepath.Join(info.Repo, apiTokenFile))
	if err != nil {
		t.Fatalf("no token file: %v", err)
	}
	token := strings.TrimSpace(string(b))
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/api/v0/status", "", http.StatusUnauthorized},
		{"/api/v0/status", "Bearer wrong", http.StatusUnauthorized},
		{"/api/v0/status", "Bearer " + token, http.StatusOK},
		{"/api/v0/fs/writer", "", http.StatusUnauthorized},
		{"/metrics", "", http.StatusOK}, // read-only, open
	} {
		req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s with %q: %s, want %d", tc.path, tc.auth, resp.Status, tc.want)
		}
	}
	// The CLI sends the token from the environment.
	t.Setenv(tokenEnv, token)
	if code, _, errout := meshfs(t, nil, "status", "--api", base); code != 0 {
		t.Fatalf("status with the token: %d %s", code, errout)
	}
	t.Setenv(tokenEnv, "")
	if code, _, _ := meshfs(t, nil, "status", "--api", base); code == 0 {
		t.Fatal("status without the token succeeded")
	}
}
