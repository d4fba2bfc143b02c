package gc

import (
	"errors"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"meshfs/content"
)

func TestBloomParams(t *testing.T) {
	tests := []struct {
		n     int
		p     float64
		m     uint64
		k     uint8
		fails bool
	}{
		{0, 0.01, 64, 1, false},
		{1, 0.01, 64, 32, false}, // 64 bits for one key: k capped
		{1_000_000, 0.01, 9585088, 7, false},
		{1_000_000, 0.001, 14377600, 10, false},
		{1_000_000, 0.5, 1442752, 1, false},
		{1 << 31, 1e-10, 0, 0, true}, // past MaxBits
		{10, 0, 0, 0, true},
		{10, 0.51, 0, 0, true},
	}
	for _, tt := range tests {
		m, k, err := bloomParams(tt.n, tt.p)
		if tt.fails {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("bloomParams(%d, %v) = %v, want ErrInvalidConfig", tt.n, tt.p, err)
			}
			continue
		}
		if err != nil || m != tt.m || k != tt.k {
			t.Errorf("bloomParams(%d, %v) = %d, %d, %v; want %d, %d", tt.n, tt.p, m, k, err, tt.m, tt.k)
		}
	}
}

// parseCID's byte check must accept exactly the CIDs content.CheckCID does.
func FuzzParseCID(f *testing.F) {
	for _, c := range parseCIDSeeds(f) {
		f.Add(c.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := cid.Cast(b)
		if err != nil {
			return
		}
		checkParseCID(t, c)
	})
}

func TestParseCID(t *testing.T) {
	for _, c := range parseCIDSeeds(t) {
		checkParseCID(t, c)
	}
}

func checkParseCID(t *testing.T, c cid.Cid) {
	k, pb, ok := parseCID(c)
	if want := content.CheckCID(c) == nil; ok != want {
		t.Fatalf("parseCID(%s) = %v, CheckCID accepts: %v", c, ok, want)
	}
	if ok && (pb != (c.Prefix().Codec == content.CodecDagPB) || string(k[:]) != string(c.Hash()[2:])) {
		t.Fatalf("parseCID(%s) = %x, %v", c, k, pb)
	}
}

func parseCIDSeeds(tb testing.TB) []cid.Cid {
	raw, _ := content.NewRawBlock([]byte("x"))
	pb, _ := content.NewBlock(content.CodecDagPB, nil)
	v0, err := cid.Decode("QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n")
	if err != nil {
		tb.Fatal(err)
	}
	id, _ := mh.Sum([]byte("x"), mh.IDENTITY, -1)
	short, _ := mh.Sum([]byte("x"), mh.SHA2_256, 20)
	sha512, _ := mh.Sum([]byte("x"), mh.SHA2_512, -1)
	return []cid.Cid{raw.CID(), pb.CID(), v0, cid.NewCidV1(cid.DagCBOR, raw.CID().Hash()),
		cid.NewCidV1(content.CodecRaw, id), cid.NewCidV1(content.CodecRaw, short), cid.NewCidV1(content.CodecDagPB, sha512)}
}
