package peer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"meshfs/content"
	"meshfs/internal/testrand"
)

// rogue is a peer written in the test with the block protocol: a DHT
// server that stores what is pushed to it and answers gets through serve.
type rogue struct {
	host   host.Host
	dht    *dht.IpfsDHT
	mu     sync.Mutex
	blocks map[cid.Cid][]byte
	gets   atomic.Int64 // get requests received
	// answer writes the get response frame for one CID (nil data: not held).
	answer func(w *bufio.Writer, c cid.Cid, data []byte) error
}

func newRogue(t *testing.T, m *testMesh, answer func(w *bufio.Writer, c cid.Cid, data []byte) error) *rogue {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHost(testConfig(), key, NewGater())
	if err != nil {
		t.Fatal(err)
	}
	d, err := dht.New(h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix(DHTPrefix))
	if err != nil {
		t.Fatal(err)
	}
	r := &rogue{host: h, dht: d, blocks: map[cid.Cid][]byte{}, answer: answer}
	t.Cleanup(func() { d.Close(); h.Close() })
	h.SetStreamHandler(BlockProtocol, r.serve)
	for _, nd := range m.nodes {
		if err := h.Connect(context.Background(), peer.AddrInfo{ID: nd.ID(), Addrs: nd.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rogue) serve(s network.Stream) {
	defer s.Close()
	br, w := bufio.NewReader(s), bufio.NewWriter(s)
	f, err := readFrame(br, maxRequestFrame, nil)
	if err != nil {
		s.Reset()
		return
	}
	req, err := decodeRequest(f)
	if err != nil {
		s.Reset()
		return
	}
	switch req.op {
	case opHave:
		ss := make([]status, len(req.cids))
		r.mu.Lock()
		for i, c := range req.cids {
			if _, ok := r.blocks[c]; !ok {
				ss[i] = statusNotFound
			}
		}
		r.mu.Unlock()
		_ = writeFrame(w, encodeStatuses(ss))
	case opGet:
		r.gets.Add(1)
		for _, c := range req.cids {
			r.mu.Lock()
			data := r.blocks[c]
			r.mu.Unlock()
			if err := r.answer(w, c, data); err != nil {
				s.Reset()
				return
			}
		}
	case opPut:
		ss := make([]status, req.n)
		for range req.n {
			f, err := readFrame(br, maxBlockFrame, nil)
			if err != nil {
				s.Reset()
				return
			}
			_, c, data, err := decodeBlockFrame(f)
			if err != nil {
				s.Reset()
				return
			}
			r.mu.Lock()
			r.blocks[c] = bytes.Clone(data)
			r.mu.Unlock()
		}
		_ = writeFrame(w, encodeStatuses(ss))
	}
	w.Flush()
}

// flipBits answers with the block's bytes, one bit flipped.
func flipBits(w *bufio.Writer, c cid.Cid, data []byte) error {
	if data == nil {
		return writeFrame(w, blockHeader(statusNotFound, c))
	}
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x10
	return writeFrame(w, blockHeader(statusOK, c), bad)
}

func TestCorruptPeerIsDroppedAndAvoided(t *testing.T) {
	m := newTestMesh(t, 4, nil)
	bad := newRogue(t, m, flipBits)
	m.waitCandidates(5)
	ctx := context.Background()
	data := testrand.Bytes(testrand.New(t), 6<<20)
	root, err := content.Import(ctx, bytes.NewReader(data), m.nodes[0], content.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad.mu.Lock()
	held := len(bad.blocks)
	bad.mu.Unlock()
	if held == 0 {
		t.Fatal("the rogue peer is home to no block; the test proves nothing")
	}
	// A new reader with an empty store reads everything from the mesh.
	reader := m.add(nil)
	m.waitCandidates(6)
	for range 2 {
		r, err := content.NewFileReader(ctx, reader, root.CID, 8)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := r.WriteTo(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Fatal("read different bytes")
		}
		reader.cache = newBlockCache(reader.cfg.CacheBytes) // read from the mesh again
	}
	// Once it served a corrupt block it is asked last. (Whether the reads
	// above reached it first depends on timing: hedged requests to other
	// homes may have won.)
	if testutilCounter(reader.metrics.corrupt) > 0 {
		if ranked := reader.scores.rank([]peer.ID{bad.host.ID(), m.nodes[1].ID()}); ranked[0] == bad.host.ID() {
			t.Error("the corrupt peer is still ranked first")
		}
	}

	// Blocks only the rogue peer holds: every read fails cleanly (never
	// with its bytes) until it crosses the threshold; then it is blocked,
	// disconnected and not asked again.
	var only []cid.Cid
	for i := range reader.cfg.BadPeerThreshold + 2 {
		b, _ := content.NewRawBlock([]byte{byte(i), 'r', 'o', 'g', 'u', 'e'})
		bad.mu.Lock()
		bad.blocks[b.CID()] = b.Data()
		bad.mu.Unlock()
		only = append(only, b.CID())
	}
	for i, c := range only {
		before, wasBlocked := bad.gets.Load(), reader.gater.IsBlocked(bad.host.ID())
		_, err := reader.Get(ctx, c)
		if err == nil {
			t.Fatalf("read %d: got a block only a corrupt peer holds", i)
		}
		if wasBlocked && bad.gets.Load() > before {
			t.Errorf("read %d: the blocked peer was asked", i)
		}
	}
	if !reader.gater.IsBlocked(bad.host.ID()) || !reader.scores.bad(bad.host.ID()) {
		t.Fatalf("the rogue peer (asked %d times, %v corrupt blocks seen) is not blocked", bad.gets.Load(), testutilCounter(reader.metrics.corrupt))
	}
	if reader.host.Network().Connectedness(bad.host.ID()) == network.Connected {
		t.Error("still connected to the rogue peer")
	}
	if slices.Contains(reader.candidates(), bad.host.ID()) {
		t.Error("the rogue peer is still a home candidate")
	}
}

func TestOversizedAnswerIsRefused(t *testing.T) {
	m := newTestMesh(t, 3, nil)
	huge := newRogue(t, m, func(w *bufio.Writer, c cid.Cid, data []byte) error {
		if data == nil {
			return writeFrame(w, blockHeader(statusNotFound, c))
		}
		return writeFrame(w, blockHeader(statusOK, c), make([]byte, content.MaxBlockSize+1))
	})
	m.waitCandidates(4)
	ctx := context.Background()
	b, _ := content.NewRawBlock(bytes.Repeat([]byte("x"), 1000))
	// Store the block on the rogue peer only, then ask a node for it.
	huge.mu.Lock()
	huge.blocks[b.CID()] = b.Data()
	huge.mu.Unlock()
	_, err := m.nodes[0].Get(ctx, b.CID())
	if !errors.Is(err, content.ErrNotFound) {
		t.Fatalf("Get of a block only an oversized liar has: %v, want not found", err)
	}
	if huge.gets.Load() == 0 {
		t.Fatal("the rogue peer was never asked")
	}
}

// rawRequest sends raw bytes as a block-protocol request from h to p and
// returns what came back before the stream ended.
func rawRequest(t *testing.T, h host.Host, p peer.ID, req []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.NewStream(ctx, p, BlockProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if _, err := s.Write(req); err != nil {
		return nil, err
	}
	s.CloseWrite()
	var out bytes.Buffer
	_, err = out.ReadFrom(s)
	return out.Bytes(), err
}

func TestOversizedRequestsAreRefused(t *testing.T) {
	m := newTestMesh(t, 2, nil)
	target := m.nodes[1]
	from := m.nodes[0].Host()
	c := testCIDs(t, 1)[0]
	// A put whose block frame is over the limit: the stream is reset and
	// nothing is stored.
	put := binary.AppendUvarint(nil, uint64(len(encodeRequest(opPut, nil, 1))))
	put = append(put, encodeRequest(opPut, nil, 1)...)
	put = binary.AppendUvarint(put, maxBlockFrame+1)
	put = append(put, blockHeader(statusOK, c)...)
	put = append(put, make([]byte, 4096)...)
	if _, err := rawRequest(t, from, target.ID(), put); err == nil {
		t.Error("oversized put frame answered without a reset")
	}
	// A put of a block over 2 MiB inside a frame the limit allows.
	big := append(blockHeader(statusOK, c), make([]byte, content.MaxBlockSize+1)...)
	put2 := binary.AppendUvarint(nil, uint64(len(encodeRequest(opPut, nil, 1))))
	put2 = append(put2, encodeRequest(opPut, nil, 1)...)
	put2 = binary.AppendUvarint(put2, uint64(len(big)))
	put2 = append(put2, big...)
	if _, err := rawRequest(t, from, target.ID(), put2); err == nil {
		t.Error("put of a block over 2 MiB answered without a reset")
	}
	// A request frame over the request limit.
	get := binary.AppendUvarint(nil, maxRequestFrame+1)
	get = append(get, make([]byte, maxRequestFrame+1)...)
	if _, err := rawRequest(t, from, target.ID(), get); err == nil {
		t.Error("oversized request answered without a reset")
	}
	if st, _ := m.stores[1].Stat(context.Background()); st.Blocks != 0 {
		t.Errorf("the target stored %d blocks", st.Blocks)
	}
}

func TestRequestFloodIsBounded(t *testing.T) {
	m := newTestMesh(t, 2, nil)
	target, from := m.nodes[1], m.nodes[0].Host()
	ctx := context.Background()
	b, _ := content.NewRawBlock([]byte("still served"))
	if err := m.stores[1].Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	// 2000 streams that announce a 2 MiB block and then stall, all at once.
	c := testCIDs(t, 1)[0]
	stall := binary.AppendUvarint(nil, uint64(len(encodeRequest(opPut, nil, MaxBatch))))
	stall = append(stall, encodeRequest(opPut, nil, MaxBatch)...)
	stall = binary.AppendUvarint(stall, maxBlockFrame)
	stall = append(stall, blockHeader(statusOK, c)...)
	const flood = 2000
	var opened atomic.Int64
	var streams sync.WaitGroup
	var mu sync.Mutex
	var open []network.Stream
	for range flood {
		streams.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			s, err := from.NewStream(sctx, target.ID(), BlockProtocol)
			if err != nil {
				return
			}
			if _, err := s.Write(stall); err != nil {
				s.Reset()
				return
			}
			opened.Add(1)
			mu.Lock()
			open = append(open, s)
			mu.Unlock()
		})
	}
	streams.Wait()
	t.Cleanup(func() {
		for _, s := range open {
			s.Reset()
		}
	})
	target.inbound.mu.Lock()
	inProgress := target.inbound.n[from.ID()]
	target.inbound.mu.Unlock()
	if inProgress > target.cfg.MaxInboundPerPeer {
		t.Errorf("%d requests in progress from one peer, limit %d", inProgress, target.cfg.MaxInboundPerPeer)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// Both nodes live in this process: the bound covers both sides.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 256<<20 {
		t.Errorf("heap grew by %d MiB under a flood of %d streams (%d opened)", grew>>20, flood, opened.Load())
	}
	// Another peer is still served during the flood.
	other := m.add(nil)
	if err := other.Host().Connect(ctx, peer.AddrInfo{ID: target.ID(), Addrs: target.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	got, err := other.getOne(ctx, target.ID(), b.CID())
	if err != nil || !bytes.Equal(got.Data(), b.Data()) {
		t.Fatalf("an honest get during the flood: %v", err)
	}
	t.Logf("flood: %d of %d streams opened, %d in progress at the target", opened.Load(), flood, inProgress)
}

// A peer refused floodRefusals times within floodWindow is a flooder, once;
// refusals spread wider than the window never make one.
func TestScoreboardFlood(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := newScoreboard(3, time.Second, func() time.Time { return now })
	p := peer.ID("flooder")
	for i := 1; i < floodRefusals; i++ {
		if s.refused(p) {
			t.Fatalf("a flooder after %d refusals, want %d", i, floodRefusals)
		}
	}
	if !s.refused(p) {
		t.Fatalf("not a flooder after %d refusals in the window", floodRefusals)
	}
	if s.refused(p) {
		t.Fatal("reported a flooder twice")
	}
	q := peer.ID("slow")
	for i := range 3 * floodRefusals {
		if s.refused(q) {
			t.Fatalf("refusals %v apart made a flooder at %d", floodWindow/floodRefusals*2, i)
		}
		now = now.Add(floodWindow / floodRefusals * 2)
	}
}

// A flooder is blocked and disconnected, and not for good.
func TestFlooderIsBanned(t *testing.T) {
	m := newTestMesh(t, 2, nil)
	target, flooder := m.nodes[1], m.nodes[0]
	for range floodRefusals {
		target.noteRefused(flooder.ID())
	}
	if reason := target.gater.Blocked()[flooder.ID()]; reason != reasonFlood {
		t.Fatalf("flooder blocked for %q, want %q", reason, reasonFlood)
	}
	waitFor(t, 10*time.Second, func() error {
		if c := target.Host().Network().ConnsToPeer(flooder.ID()); len(c) > 0 {
			return fmt.Errorf("%d connections to the flooder left", len(c))
		}
		return nil
	})
	// The ban ends: unblocking for the flood reason lifts it, but not a
	// block for another reason.
	target.gater.UnblockIf(flooder.ID(), reasonFlood)
	if target.gater.IsBlocked(flooder.ID()) {
		t.Fatal("still blocked after the flood ban was lifted")
	}
	target.gater.Block(flooder.ID(), "corrupt blocks")
	target.gater.UnblockIf(flooder.ID(), reasonFlood)
	if !target.gater.IsBlocked(flooder.ID()) {
		t.Fatal("the end of a flood ban lifted a block for corrupt blocks")
	}
}
