package peer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/libp2p/go-libp2p/core/crypto"
	cryptopb "github.com/libp2p/go-libp2p/core/crypto/pb"
	"google.golang.org/protobuf/proto"

	"meshfs/internal/atomicfile"
)

// LoadOrCreateIdentity returns the Ed25519 key kept in the file at path,
// creating it (mode 0600, written durably) if the file does not exist.
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		// The key type is checked before the key is parsed: parsing some
		// malformed keys of other types (RSA) takes seconds or more.
		var pk cryptopb.PrivateKey
		if err := proto.Unmarshal(b, &pk); err != nil {
			return nil, fmt.Errorf("peer: identity %s: %w", path, err)
		}
		if pk.GetType() != cryptopb.KeyType_Ed25519 {
			return nil, fmt.Errorf("peer: identity %s: key type %v, want Ed25519", path, pk.GetType())
		}
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("peer: identity %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("peer: identity: %w", err)
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("peer: identity: %w", err)
	}
	b, err = crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("peer: identity: %w", err)
	}
	if err := atomicfile.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("peer: identity: %w", err)
	}
	return k, nil
}
