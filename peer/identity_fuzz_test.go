package peer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
)

// FuzzLoadIdentity: whatever the identity file on disk holds, loading it
// gives an Ed25519 key that marshals back to the same bytes, or an error;
// it never overwrites the file.
func FuzzLoadIdentity(f *testing.F) {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := crypto.MarshalPrivateKey(key)
	f.Add(good)
	f.Add(good[:len(good)/2])
	rsa, _, err := crypto.GenerateRSAKeyPair(2048, nil)
	if err != nil {
		f.Fatal(err)
	}
	rsaBytes, _ := crypto.MarshalPrivateKey(rsa)
	f.Add(rsaBytes)
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "identity")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := LoadOrCreateIdentity(path)
		if after, rerr := os.ReadFile(path); rerr != nil || string(after) != string(b) {
			t.Fatalf("the identity file changed: %v", rerr)
		}
		if err != nil {
			return
		}
		if k.Type() != crypto.Ed25519 {
			t.Fatalf("loaded a %v key", k.Type())
		}
		again, err := crypto.MarshalPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if k2, err := crypto.UnmarshalPrivateKey(again); err != nil || !k2.Equals(k) {
			t.Fatalf("the loaded key does not round-trip: %v", err)
		}
	})
}
