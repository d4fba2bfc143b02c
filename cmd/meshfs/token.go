package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"meshfs/wasm/web"

	"meshfs/internal/atomicfile"
)

// apiTokenFile holds the repo's API token: what a caller must show when the
// API listens beyond loopback.
const apiTokenFile = "api.token"

// tokenEnv gives the CLI the token of a daemon whose API is not on
// loopback.
const tokenEnv = "MESHFS_API_TOKEN"

// loadOrCreateToken returns the repo's API token, made on first use.
func loadOrCreateToken(repo string) (string, error) {
	path := filepath.Join(repo, apiTokenFile)
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); len(t) >= 32 {
			return t, nil
		}
		return "", fmt.Errorf("%s: token too short (delete the file to make a new one)", path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	t := hex.EncodeToString(raw[:])
	if err := atomicfile.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", err
	}
	return t, nil
}

// isLoopback reports whether the listener's address is loopback only.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// requireToken guards the API (not the read-only gateway and metrics)
// with the bearer token.
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The gateway, the metrics and the browser page are public: the
		// page talks to the mesh over libp2p, not through this API.
		open := strings.HasPrefix(r.URL.Path, "/ipfs/") || r.URL.Path == "/metrics" || web.IsPage(r.URL.Path)
		if !open && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{
				"error": "this API listens beyond loopback: send Authorization: Bearer TOKEN (the repo's " + apiTokenFile + "; the CLI reads $" + tokenEnv + ")",
				"kind":  "unauthorized",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
