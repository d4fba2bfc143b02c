package content_test

import (
	"context"
	"testing"

	"meshfs/content"
	"meshfs/internal/fixture"
)

// publicVectors are the CIDs `ipfs add --cid-version=1` prints for the
// fixture bytes (defaults: 256 KiB chunks, raw leaves, balanced layout).
var publicVectors = []struct {
	size int64
	cid  string
}{
	{0, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"},
	{262145, "bafybeic2hufye5pe64jn5rbyvyaemliboahrhc6rxndshuhywymrhk26my"},
	{10485767, "bafybeidszgjm7lykah2s57j4eqdvzlnrchd7jrie3ujzvpt45bzpyimjpq"},
}

func TestPublicCIDVectors(t *testing.T) {
	for _, v := range publicVectors {
		root, err := content.Import(context.Background(), fixture.New(v.size), content.Discard, content.ImportOptions{})
		if err != nil {
			t.Fatalf("size %d: %v", v.size, err)
		}
		if got := root.CID.String(); got != v.cid {
			t.Errorf("size %d: CID %s, want %s", v.size, got, v.cid)
		}
		if root.FileSize != uint64(v.size) {
			t.Errorf("size %d: file size %d", v.size, root.FileSize)
		}
	}
}
