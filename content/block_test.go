package content_test

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

func TestBlockLimitsAndVerification(t *testing.T) {
	big := make([]byte, content.MaxBlockSize+1)
	if _, err := content.NewRawBlock(big); !errors.Is(err, content.ErrBlockTooLarge) {
		t.Errorf("oversized block: %v", err)
	}
	if _, err := content.NewRawBlock(big[:content.MaxBlockSize]); err != nil {
		t.Errorf("block of exactly MaxBlockSize: %v", err)
	}
	b, err := content.NewRawBlock([]byte("hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := content.BlockFromCID(b.CID(), []byte("hello!")); !errors.Is(err, content.ErrHashMismatch) {
		t.Errorf("wrong bytes: %v", err)
	}
	if got, err := content.BlockFromCID(b.CID(), []byte("hello\n")); err != nil || !got.CID().Equals(b.CID()) {
		t.Errorf("right bytes: %v", err)
	}
	if _, err := content.BlockFromCID(b.CID(), big); !errors.Is(err, content.ErrBlockTooLarge) {
		t.Errorf("oversized bytes for a CID: %v", err)
	}
	if _, err := content.NewBlock(cid.DagCBOR, []byte{0xa0}); !errors.Is(err, content.ErrUnsupportedCID) {
		t.Errorf("dag-cbor codec: %v", err)
	}
}

// BlockFromCIDHasher checks as BlockFromCID does, hashing with the hasher
// it is given and only what passes the checks that need no hash.
func TestBlockFromCIDHasher(t *testing.T) {
	calls := 0
	sum := func(data []byte) ([sha256.Size]byte, error) { calls++; return sha256.Sum256(data), nil }
	b, err := content.NewRawBlock([]byte("hello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := content.BlockFromCIDHasher(b.CID(), []byte("hello\n"), sum); err != nil || !got.CID().Equals(b.CID()) || string(got.Data()) != "hello\n" {
		t.Errorf("right bytes: %v, %v", got, err)
	}
	if _, err := content.BlockFromCIDHasher(b.CID(), []byte("hello!"), sum); !errors.Is(err, content.ErrHashMismatch) {
		t.Errorf("wrong bytes: %v", err)
	}
	if calls != 2 {
		t.Errorf("hasher called %d times for 2 blocks", calls)
	}
	boom := errors.New("no digest")
	if _, err := content.BlockFromCIDHasher(b.CID(), []byte("hello\n"), func([]byte) ([sha256.Size]byte, error) {
		return [sha256.Size]byte{}, boom
	}); !errors.Is(err, boom) {
		t.Errorf("hasher error: %v", err)
	}
	calls = 0
	if _, err := content.BlockFromCIDHasher(b.CID(), make([]byte, content.MaxBlockSize+1), sum); !errors.Is(err, content.ErrBlockTooLarge) {
		t.Errorf("oversized bytes: %v", err)
	}
	v0 := cid.NewCidV0(b.CID().Hash())
	if _, err := content.BlockFromCIDHasher(v0, []byte("hello\n"), sum); !errors.Is(err, content.ErrUnsupportedCID) {
		t.Errorf("CIDv0: %v", err)
	}
	if calls != 0 {
		t.Errorf("hasher called %d times for refused input", calls)
	}
}

func TestCheckCID(t *testing.T) {
	sha := func(codec uint64, version int) cid.Cid {
		h, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
		if version == 0 {
			return cid.NewCidV0(h)
		}
		return cid.NewCidV1(codec, h)
	}
	blake, _ := mh.Sum([]byte("x"), mh.BLAKE3, 32)
	short, _ := mh.Sum([]byte("x"), mh.SHA2_256, 20)
	tests := []struct {
		name string
		c    cid.Cid
		ok   bool
	}{
		{"raw v1", sha(cid.Raw, 1), true},
		{"dag-pb v1", sha(cid.DagProtobuf, 1), true},
		{"v0", sha(cid.DagProtobuf, 0), false},
		{"dag-cbor", sha(cid.DagCBOR, 1), false},
		{"blake3", cid.NewCidV1(cid.Raw, blake), false},
		{"truncated sha256", cid.NewCidV1(cid.Raw, short), false},
		{"undefined", cid.Undef, false},
	}
	for _, tt := range tests {
		err := content.CheckCID(tt.c)
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckCID = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, content.ErrUnsupportedCID) {
			t.Errorf("%s: %v does not wrap ErrUnsupportedCID", tt.name, err)
		}
	}
	if _, err := content.ParseCID("not-a-cid"); !errors.Is(err, content.ErrUnsupportedCID) {
		t.Errorf("ParseCID garbage: %v", err)
	}
}

func TestChunkSizeLimits(t *testing.T) {
	for _, n := range []int{0, 1023, 1<<20 + 1, -5} {
		if err := content.CheckChunkSize(n); !errors.Is(err, content.ErrInvalidOption) {
			t.Errorf("chunk size %d accepted", n)
		}
	}
	for _, n := range []int{1024, 4000, 1 << 20} {
		if err := content.CheckChunkSize(n); err != nil {
			t.Errorf("chunk size %d: %v", n, err)
		}
	}
}
