package peer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"meshfs/content"
)

// BenchmarkGet fetches 256 KiB blocks from another node over loopback,
// 32 at a time, and reports the rate against raw SHA-256 in the same run
// (x-sha256: 1.0 means as fast as hashing the bytes once on one core).
func BenchmarkGet(b *testing.B) {
	m := &testMesh{t: b}
	m.add(nil)
	m.add(nil)
	server, client := m.nodes[0], m.nodes[1]
	ctx := context.Background()
	var cids []cid.Cid
	for i := range 64 {
		blk, _ := content.NewRawBlock(bytes.Repeat([]byte{byte(i)}, 256<<10))
		m.stores[0].Put(ctx, blk)
		cids = append(cids, blk.CID())
	}
	if err := client.Host().Connect(ctx, server.Host().Peerstore().PeerInfo(server.ID())); err != nil {
		b.Fatal(err)
	}
	client.host.Peerstore().AddAddrs(server.ID(), server.Host().Addrs(), 1<<62)
	b.SetBytes(256 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	sem := make(chan struct{}, benchInFlight)
	var wg sync.WaitGroup
	for i := range b.N {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := client.getOne(ctx, server.ID(), cids[i%len(cids)]); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	buf := make([]byte, 256<<10)
	start := time.Now()
	for range 1024 {
		sha256.Sum256(buf)
	}
	shaPerByte := float64(time.Since(start).Nanoseconds()) / float64(1024*len(buf))
	getPerByte := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(256<<10)
	b.ReportMetric(shaPerByte/getPerByte, "x-sha256")
}

// benchInFlight is how many gets BenchmarkGet keeps in flight
// (MESHFS_BENCH_INFLIGHT).
var benchInFlight = func() int {
	if n, err := strconv.Atoi(os.Getenv("MESHFS_BENCH_INFLIGHT")); err == nil && n > 0 {
		return n
	}
	return 32
}()
