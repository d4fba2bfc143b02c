package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"meshfs/content"
	"meshfs/internal/testrand"
	"meshfs/peer"
	"meshfs/testnet"
)

// budgetFSTimeout is the daemons' --fs-timeout: how long a namespace change
// or a strong read waits for a writer and its quorum (60 s by default).
const budgetFSTimeout = 4 * time.Second

// budgetSlack is how much later than budgetFSTimeout a refusal may arrive
// (the answer is written, the race detector slows everything).
const budgetSlack = 4 * time.Second

// budgetHang bounds every call of the budget tests: a call that has no
// answer by then hangs.
const budgetHang = budgetFSTimeout + 20*time.Second

// budget is the state TestBudget's subtests share: one testnet of 5 peers
// (voters 0-2, R=3, W=2, open namespace) whose faults each subtest undoes.
type budget struct {
	t    *testing.T
	ctx  context.Context
	net  *testnet.Net
	rng  *rand.Rand
	base []byte // /budget/base.bin, acknowledged before any fault
}

// TestBudget takes down more than the fault budget and checks that the
// system refuses service safely, promptly and recovers:
//   - a majority of voters SIGKILLed, SIGSTOPped, or every voter cut off
//     from the others: namespace changes and strong reads through the
//     survivors fail within --fs-timeout with "no namespace writer
//     reachable" (503) or "outcome unknown" (504), never succeed; eventual
//     reads still serve the last published tree; once the voters are back a
//     change succeeds, no refused change is there and the tree reads the
//     same through every peer;
//   - an add that reaches fewer than W home peers fails with the
//     QuorumError (503, "N of M home peers acknowledged (write quorum 2)"),
//     through the API and the CLI, and succeeds once the peers are back;
//   - with every holder of a block killed, cat fails with 404 "block not
//     found" in bounded time, and reads back identical once they restart.
func TestBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 5 daemons")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	net, err := testnet.Start(ctx, testnet.Config{
		Binary: binary, Dir: t.TempDir(), Peers: 5, Open: true,
		DaemonArgs: []string{"--fs-timeout", budgetFSTimeout.String(), "--replication", "3", "--write-quorum", "2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	b := &budget{t: t, ctx: ctx, net: net, rng: testrand.New(t)}
	t.Logf("testnet of 5 up after %v", time.Since(start).Round(time.Millisecond))

	// A file acknowledged before any fault, and published: every peer reads
	// it at every level, eventual included (its root record is out).
	b.base = testrand.Bytes(b.rng, 300<<10)
	if a, err := b.writeRetrying(0, "/budget/base.bin", b.base, "parents", "1"); err != nil || a.Status != http.StatusOK {
		t.Fatalf("write /budget/base.bin: %+v %v", a, err)
	}
	for _, level := range []string{"strong", "eventual"} {
		for i := range 5 {
			b.waitCat(i, "/budget/base.bin", level, b.base)
		}
	}

	outages := []struct {
		name string
		cut  func(w testnet.Writer) outage
		undo func(o outage) error
	}{
		{
			// The writer and a follower SIGKILLed.
			name: "voters-killed",
			cut: func(w testnet.Writer) outage {
				o := outage{via: []int{(w.Index + 2) % 3, 3}, down: []int{w.Index, (w.Index + 1) % 3}}
				for _, i := range o.down {
					if err := net.Kill(i); err != nil {
						b.t.Fatal(err)
					}
				}
				return o
			},
			undo: func(o outage) error { return b.restart(o.down) },
		},
		{
			// The writer and a follower SIGSTOPped: their connections stay
			// up, and nothing answers on them.
			name: "voters-paused",
			cut: func(w testnet.Writer) outage {
				o := outage{via: []int{(w.Index + 2) % 3, 3}, down: []int{w.Index, (w.Index + 1) % 3}}
				for _, i := range o.down {
					if err := net.Pause(i); err != nil {
						b.t.Fatal(err)
					}
				}
				return o
			},
			undo: func(o outage) error {
				for _, i := range o.down {
					if err := net.Resume(i); err != nil {
						return err
					}
				}
				return nil
			},
		},
		{
			// The writer cut off alone, and a follower alone; the other
			// follower with the non-voters: no group holds a quorum. The
			// big group holds a copy of every block (3 of 5 peers meet
			// every home set); the writer alone may lack some.
			name: "voters-cut-apart",
			cut: func(w testnet.Writer) outage {
				f1, f2 := (w.Index+1)%3, (w.Index+2)%3
				if err := net.Partition(ctx, []int{w.Index}, []int{f1}, []int{f2, 3, 4}); err != nil {
					b.t.Fatal(err)
				}
				return outage{via: []int{w.Index, f2, 3}, alone: []int{w.Index}}
			},
			undo: func(outage) error { return net.Heal(ctx) },
		},
	}
	for _, o := range outages {
		ok := t.Run(o.name, func(t *testing.T) {
			b.t = t
			b.noQuorum(o.name, o.cut, o.undo)
		})
		b.t = t
		if !ok {
			t.Fatalf("%s failed: the testnet may not be whole, stopping", o.name)
		}
	}
	if !t.Run("add-below-write-quorum", func(t *testing.T) { b.t = t; b.addBelowQuorum() }) {
		t.FailNow()
	}
	b.t = t
	t.Run("all-holders-killed", func(t *testing.T) { b.t = t; b.allHoldersKilled() })
	b.t = t
	t.Logf("TestBudget took %v", time.Since(start).Round(time.Millisecond))
}

// outage is a fault that leaves no quorum of voters reachable.
type outage struct {
	via   []int // peers still up, to go through
	down  []int // peers killed or paused
	alone []int // peers of via cut off alone: they hold a quorum of no block
}

// outcome is what one call answered during an outage.
type outcome struct {
	via    int
	what   string // "mkdir", "write", "strong stat", "strong cat", "eventual cat"
	path   string
	status int
	kind   string
	msg    string
	body   []byte // a cat's bytes
	took   time.Duration
	err    error // the call itself failed (no answer)
}

func (o outcome) String() string {
	s := fmt.Sprintf("%s %s via peer %d: %d %s after %v", o.what, o.path, o.via, o.status, o.kind, o.took.Round(time.Millisecond))
	if o.err != nil {
		s += fmt.Sprintf(" (call failed: %v)", o.err)
	} else if o.msg != "" {
		s += fmt.Sprintf(": %q", o.msg)
	}
	return s
}

// noQuorum runs one outage: cut leaves no quorum of voters reachable, and
// every change and strong read through the peers still up must be refused
// within the timeout while eventual reads serve the base file; undo brings
// the voters back, and the tree must then take a change, hold none of the
// refused ones, and read the same through every peer.
func (b *budget) noQuorum(name string, cut func(testnet.Writer) outage, undo func(outage) error) {
	t := b.t
	w, err := b.net.WaitWriter(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := "/budget/" + name
	before := []byte("before " + name)
	if a, err := b.writeRetrying(w.Index, dir+"/before", before, "parents", "1"); err != nil || a.Status != http.StatusOK {
		t.Fatalf("write %s/before: %+v %v", dir, a, err)
	}
	// The last root record before the outage, with dir/before, is out.
	for i := range 5 {
		b.waitCat(i, dir+"/before", "eventual", before)
	}
	published := map[string][]byte{"/budget/base.bin": b.base, dir + "/before": before}
	ids := make([]string, 0, 5)
	for _, p := range b.net.Peers() {
		ids = append(ids, p.ID)
	}

	out := cut(w)
	via, down := out.via, out.down
	t.Logf("writer was peer %d (term %d); down: %v; going through peers %v", w.Index, w.Term, down, via)
	restored := false
	defer func() {
		if !restored {
			if err := undo(out); err != nil {
				t.Errorf("undo %s: %v", name, err)
			}
		}
	}()

	// Every call at once, so the outage lasts about one timeout.
	var mu sync.Mutex
	var outs []outcome
	var wg sync.WaitGroup
	run := func(o outcome, do func(ctx context.Context, o *outcome)) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(b.ctx, budgetHang)
			defer cancel()
			start := time.Now()
			do(ctx, &o)
			o.took = time.Since(start)
			mu.Lock()
			outs = append(outs, o)
			mu.Unlock()
		})
	}
	sent := map[string][]byte{} // what each write sent
	for _, i := range via {
		api := b.net.Peer(i).API
		p := fmt.Sprintf("%s/mkdir-%d", dir, i)
		run(outcome{via: i, what: "mkdir", path: p}, func(ctx context.Context, o *outcome) {
			o.fsAnswer(fsCall(ctx, api, "mkdir", url.Values{"arg": {p}}, []byte{}))
		})
		p2 := fmt.Sprintf("%s/write-%d", dir, i)
		// Content whose home peers are mostly up: the blocks go in, and
		// the namespace alone refuses.
		data := b.contentAvoiding(ids, down)
		sent[p2] = data
		run(outcome{via: i, what: "write", path: p2}, func(ctx context.Context, o *outcome) {
			o.fsAnswer(fsWrite(ctx, api, p2, data))
		})
		run(outcome{via: i, what: "strong stat", path: "/budget/base.bin"}, func(ctx context.Context, o *outcome) {
			o.fsAnswer(fsStat(ctx, api, "/budget/base.bin", "strong"))
		})
		run(outcome{via: i, what: "strong cat", path: "/budget/base.bin"}, func(ctx context.Context, o *outcome) {
			o.catAnswer(ctx, api, "/budget/base.bin", "strong")
		})
		for p := range published {
			run(outcome{via: i, what: "eventual cat", path: p}, func(ctx context.Context, o *outcome) {
				o.catAnswer(ctx, api, p, "eventual")
			})
		}
	}
	wg.Wait()
	slices.SortFunc(outs, func(x, y outcome) int {
		return strings.Compare(fmt.Sprint(x.what, x.via, x.path), fmt.Sprint(y.what, y.via, y.path))
	})

	refused := map[string]bool{} // changes certainly not made
	unknown := map[string]bool{} // changes of unknown outcome
	for _, o := range outs {
		t.Logf("%s: %v", name, o)
		if o.err != nil && !(o.what == "eventual cat" && slices.Contains(out.alone, o.via) && errors.Is(o.err, io.ErrUnexpectedEOF)) {
			t.Errorf("%s: no answer: %v", name, o)
			continue
		}
		switch o.what {
		case "mkdir", "write":
			switch {
			case o.status == http.StatusServiceUnavailable && o.kind == "nowriter" && strings.Contains(o.msg, "no namespace writer reachable"):
				refused[o.path] = true
			case o.status == http.StatusGatewayTimeout && o.kind == "unknown" && strings.Contains(o.msg, "outcome unknown"):
				unknown[o.path] = true
			case o.what == "write" && slices.Contains(out.alone, o.via) && o.status == http.StatusServiceUnavailable && quorumMsg.MatchString(o.msg):
				// Alone, the peer is short of W home peers for the
				// blocks: the change is never proposed.
				refused[o.path] = true
			default:
				t.Errorf("%s: a change without a quorum answered otherwise than 503 nowriter or 504 unknown: %v", name, o)
			}
			b.inTime(name, o)
		case "strong stat", "strong cat":
			if o.status != http.StatusServiceUnavailable || o.kind != "nowriter" || !strings.Contains(o.msg, "no namespace writer reachable") {
				t.Errorf("%s: a strong read without a quorum answered otherwise than 503 nowriter: %v", name, o)
			}
			b.inTime(name, o)
		case "eventual cat":
			// Alone, a peer may hold no copy of a block of the tree: it
			// says so, or breaks off a transfer under way (never a short
			// file that looks whole).
			lacks := slices.Contains(out.alone, o.via) && (o.status == http.StatusNotFound && strings.Contains(o.msg, "block not found") || o.err != nil)
			if want := published[o.path]; !lacks && (o.status != http.StatusOK || !bytes.Equal(o.body, want)) {
				t.Errorf("%s: eventual read of the last published tree: %v, %d bytes (want the %d published)", name, o, len(o.body), len(want))
			}
			b.inTime(name, o)
		}
	}
	t.Logf("%s: %s", name, latencies(outs))

	restored = true
	if err := undo(out); err != nil {
		t.Fatalf("undo %s: %v", name, err)
	}
	w2, err := b.net.WaitWriter(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s undone: writer peer %d, term %d", name, w2.Index, w2.Term)

	// A change through the first peer that went through the outage
	// succeeds (retried only while it is refused for want of a writer).
	after := []byte("after " + name)
	if a, err := b.writeRetrying(via[0], dir+"/after", after); err != nil || a.Status != http.StatusOK {
		t.Fatalf("write %s/after through peer %d: %+v %v", dir, via[0], a, err)
	}
	// Every peer lists the same tree: the changes made before and after,
	// maybe the ones of unknown outcome, never a refused one.
	var listed []string
	err = waitFor(b.ctx, 15*time.Second, func() error {
		for i := range 5 {
			names, err := lsNames(b.ctx, b.net.Peer(i).API, dir)
			if err != nil {
				return err
			}
			if i > 0 && !slices.Equal(names, listed) {
				return fmt.Errorf("peer %d lists %s as %v, peer %d as %v", i, dir, names, i-1, listed)
			}
			listed = names
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range listed {
		p := dir + "/" + n
		switch {
		case refused[p]:
			t.Errorf("%s: %s was refused (503 nowriter) during the outage but is in the tree", name, p)
		case unknown[p]:
			t.Logf("%s: %s, of unknown outcome, was made", name, p)
			if data, ok := sent[p]; ok {
				b.waitCat(via[0], p, "strong", data) // made whole, or not at all
			}
		case n != "before" && n != "after":
			t.Errorf("%s: %s is in the tree and nobody wrote it", name, p)
		}
	}
	if !slices.Contains(listed, "before") || !slices.Contains(listed, "after") {
		t.Errorf("%s: %s lists %v: an acknowledged change is missing", name, dir, listed)
	}
	for _, i := range via {
		b.waitCat(i, dir+"/after", "strong", after)
		b.waitCat(i, "/budget/base.bin", "strong", b.base)
	}
}

// latencies sums up how long each kind of call took to be answered.
func latencies(outs []outcome) string {
	var kinds []string
	lo, hi := map[string]time.Duration{}, map[string]time.Duration{}
	for _, o := range outs {
		if _, ok := lo[o.what]; !ok {
			kinds = append(kinds, o.what)
			lo[o.what] = o.took
		}
		lo[o.what], hi[o.what] = min(lo[o.what], o.took), max(hi[o.what], o.took)
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %v-%v", k, lo[k].Round(time.Millisecond), hi[k].Round(time.Millisecond)))
	}
	return "answered in " + strings.Join(parts, ", ")
}

// inTime checks that an answer came within the timeout.
func (b *budget) inTime(name string, o outcome) {
	if o.took > budgetFSTimeout+budgetSlack {
		b.t.Errorf("%s: answered after %v, more than --fs-timeout %v (+%v): %v", name, o.took.Round(time.Millisecond), budgetFSTimeout, budgetSlack, o)
	}
}

// fsAnswer records an fsCall's result.
func (o *outcome) fsAnswer(a fsAnswer, err error) {
	o.status, o.kind, o.msg, o.err = a.Status, a.Kind, a.Error, err
}

// catAnswer reads p at level through api and records the answer: the bytes
// of a 200, else the error.
func (o *outcome) catAnswer(ctx context.Context, api, p, level string) {
	q := url.Values{"arg": {p}, "consistency": {level}}
	o.status, o.body, o.kind, o.msg, o.err = fetch(ctx, api+"/api/v0/fs/cat?"+q.Encode())
}

// fetch GETs u and returns the status and, for a 200, the body; for an
// error answer its kind and message.
func fetch(ctx context.Context, u string) (status int, body []byte, kind, msg string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, "", "", err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, "", "", err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, "", "", fmt.Errorf("status %d, body broken off: %w", resp.StatusCode, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, body, "", "", nil
	}
	var e fsAnswer
	if jsonErr := json.Unmarshal(body, &e); jsonErr != nil {
		return resp.StatusCode, nil, "", string(body), nil
	}
	return resp.StatusCode, nil, e.Kind, e.Error, nil
}

// writeRetrying writes data to p through peer i, again while the answer
// is 503 "nowriter" (the change was not made: a writer is being elected)
// or 504 "unknown" (made or not: writing the same bytes again is the same
// change), for up to 20 s; extra are query parameters, name then value.
func (b *budget) writeRetrying(i int, p string, data []byte, extra ...string) (fsAnswer, error) {
	var a fsAnswer
	var callErr error
	err := waitFor(b.ctx, 20*time.Second, func() error {
		a, callErr = fsWrite(b.ctx, b.net.Peer(i).API, p, data, extra...)
		if callErr == nil && (a.Status == http.StatusServiceUnavailable && a.Kind == "nowriter" || a.Status == http.StatusGatewayTimeout && a.Kind == "unknown") {
			return fmt.Errorf("%d %s", a.Status, a.Error)
		}
		return nil
	})
	if callErr != nil {
		return a, callErr
	}
	return a, err
}

// waitCat waits until peer i reads p at level as want.
func (b *budget) waitCat(i int, p, level string, want []byte) {
	b.t.Helper()
	err := waitFor(b.ctx, 30*time.Second, func() error {
		got, err := fsCat(b.ctx, b.net.Peer(i).API, p, level)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("peer %d, %s read of %s: %d bytes, not the %d written", i, level, p, len(got), len(want))
		}
		return nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
}

// lsNames lists the directory p, strongly, through api.
func lsNames(ctx context.Context, api, p string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v0/fs/ls?"+url.Values{"arg": {p}, "consistency": {"strong"}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	var res struct {
		Entries []struct {
			Name string `json:"name"`
		} `json:"entries"`
	}
	if err := call(req, &res); err != nil {
		return nil, err
	}
	names := []string{}
	for _, e := range res.Entries {
		names = append(names, e.Name)
	}
	return names, nil
}

// contentAvoiding returns 1 KiB of random bytes (one block) of which at
// most one home peer, over the peers ids, is among the peers down.
func (b *budget) contentAvoiding(ids []string, down []int) []byte {
	b.t.Helper()
	for range 10000 {
		data := testrand.Bytes(b.rng, 1<<10)
		homes := b.homes(data, ids)
		n := 0
		for _, i := range down {
			if slices.Contains(homes, ids[i]) {
				n++
			}
		}
		if n <= 1 {
			return data
		}
	}
	b.t.Fatalf("no content of which at most one home peer is among %v", down)
	return nil
}

// homes returns the home peers, among ids, of data's root block (data is
// one block).
func (b *budget) homes(data []byte, ids []string) []string {
	b.t.Helper()
	root, err := content.Import(b.ctx, bytes.NewReader(data), content.NewMemStore(), content.ImportOptions{})
	if err != nil {
		b.t.Fatal(err)
	}
	homes, err := peer.HomeOf(root.CID, ids, 3)
	if err != nil {
		b.t.Fatal(err)
	}
	return homes
}

// restart restarts the peers, all at once.
func (b *budget) restart(peers []int) error {
	errs := make([]error, len(peers))
	var wg sync.WaitGroup
	for k, i := range peers {
		wg.Go(func() { errs[k] = b.net.Restart(b.ctx, i) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return b.net.WaitMesh(b.ctx)
}

// quorumMsg is the QuorumError's text (peer/errors.go).
var quorumMsg = regexp.MustCompile(`block (\S+): (\d+) of (\d+) home peers acknowledged \(write quorum 2\)`)

// addBelowQuorum cuts non-voter 4 off from every other peer: an add
// through it reaches one home peer, itself, and must fail with the
// QuorumError, through the API and the CLI; healed, the same add succeeds
// and the file reads back through another peer.
func (b *budget) addBelowQuorum() {
	t := b.t
	const adder = 4
	data := testrand.Bytes(b.rng, 600<<10) // 3 leaves and a root
	if err := b.net.Partition(b.ctx, []int{adder}); err != nil {
		t.Fatal(err)
	}
	healed := false
	defer func() {
		if !healed {
			if err := b.net.Heal(b.ctx); err != nil {
				t.Errorf("heal: %v", err)
			}
		}
	}()
	api := b.net.Peer(adder).API

	ctx, cancel := context.WithTimeout(b.ctx, budgetHang)
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v0/add", bytes.NewReader(data))
	resp, err := httpClient.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	took := time.Since(start)
	cancel()
	if err != nil {
		t.Fatalf("add with W unreachable: no answer after %v: %v", took, err)
	}
	t.Logf("add with one home peer reachable: %s after %v: %s", resp.Status, took.Round(time.Millisecond), bytes.TrimSpace(body))
	var e struct {
		Error string `json:"error"`
		CID   string `json:"cid"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("add answer %q: %v", body, err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || e.CID != "" {
		t.Errorf("add with W unreachable: %s %q, want 503 and no CID", resp.Status, body)
	}
	if m := quorumMsg.FindStringSubmatch(e.Error); m == nil {
		t.Errorf("add with W unreachable: error %q does not name how many home peers acknowledged", e.Error)
	} else if acked, _ := strconv.Atoi(m[2]); acked >= 2 {
		t.Errorf("add failed though %d home peers acknowledged: %q", acked, e.Error)
	}

	// The command line reports the failure too, and prints no CID.
	cli := exec.CommandContext(b.ctx, binary, "add", "--api", api, "-q", "-")
	cli.Stdin = bytes.NewReader(data)
	var stdout, stderr bytes.Buffer
	cli.Stdout, cli.Stderr = &stdout, &stderr
	err = cli.Run()
	t.Logf("meshfs add with W unreachable: %v; stderr %q", err, strings.TrimSpace(stderr.String()))
	if err == nil || stdout.Len() > 0 {
		t.Errorf("meshfs add with W unreachable: exit %v, stdout %q", err, stdout.String())
	}
	if !quorumMsg.MatchString(stderr.String()) {
		t.Errorf("meshfs add with W unreachable: stderr %q does not name how many home peers acknowledged", stderr.String())
	}

	healed = true
	if err := b.net.Heal(b.ctx); err != nil {
		t.Fatal(err)
	}
	var c string
	err = waitFor(b.ctx, 20*time.Second, func() error {
		var err error
		c, err = addQuery(b.ctx, api, data, "chunk-size=262144")
		return err
	})
	if err != nil {
		t.Fatalf("add after the heal: %v", err)
	}
	got, err := cat(b.ctx, b.net.Peer(3).API, c)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("cat %s through peer 3 after the heal: %d bytes, %v", c, len(got), err)
	}
}

// allHoldersKilled adds a file of 3 leaves through a peer that is home to
// none of its first leaf's copies, kills every peer that holds that leaf,
// and reads the file through the other peer left, which never held or read
// it: the read must fail with 404 "block not found" (nothing of the file
// can be sent) within a bound, and once the holders restart the file reads
// back identical.
func (b *budget) allHoldersKilled() {
	t := b.t
	ids := make([]string, 0, 5)
	for _, p := range b.net.Peers() {
		ids = append(ids, p.ID)
	}
	data := testrand.Bytes(b.rng, 600<<10)
	st := content.NewMemStore()
	root, err := content.Import(b.ctx, bytes.NewReader(data), st, content.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := st.Get(b.ctx, root.CID)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := content.DecodePBNode(rb.Data())
	if err != nil || len(pb.Links) != 3 {
		t.Fatalf("the file's root has %d links (%v), want 3", len(pb.Links), err)
	}
	leaf := pb.Links[0].CID
	homes, err := peer.HomeOf(leaf, ids, 3)
	if err != nil {
		t.Fatal(err)
	}
	var others []int
	for i, id := range ids {
		if !slices.Contains(homes, id) {
			others = append(others, i)
		}
	}
	adder, reader := others[0], others[1]
	c, err := addQuery(b.ctx, b.net.Peer(adder).API, data, "pin=0")
	if err != nil {
		t.Fatal(err)
	}
	if c != root.CID.String() {
		t.Fatalf("added as %s, computed here as %s", c, root.CID)
	}
	holders := func(block string) []int {
		var hs []int
		err := waitFor(b.ctx, 20*time.Second, func() error {
			ps, err := where(b.ctx, b.net.Peer(reader).API, block)
			if err != nil {
				return err
			}
			hs = hs[:0]
			for _, h := range ps {
				hs = append(hs, indexOf(b.net, h))
			}
			if len(hs) < 3 {
				return fmt.Errorf("block %s has %d holders %v", block, len(hs), hs)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return hs
	}
	victims := holders(leaf.String())
	if slices.Contains(victims, reader) {
		t.Fatalf("the reader holds block %s: holders %v", leaf, victims)
	}
	// The blocks of the file left with no live holder: the first leaf,
	// maybe the root.
	dead := []string{leaf.String()}
	if hs := holders(c); !slices.ContainsFunc(hs, func(i int) bool { return !slices.Contains(victims, i) }) {
		dead = append(dead, c)
	}
	t.Logf("file %s added through peer %d; its first leaf %s held by peers %v; killing them, reading through peer %d", c, adder, leaf, victims, reader)
	for _, i := range victims {
		if err := b.net.Kill(i); err != nil {
			t.Fatal(err)
		}
	}

	// The dead holders drop out of the reader's candidates at once; what
	// bounds the read is the DHT lookup of other holders (10 s at most,
	// peer/fetch.go), slowed by dials to the dead peers.
	const bound = 10*time.Second + budgetSlack
	ctx, cancel := context.WithTimeout(b.ctx, budgetHang+30*time.Second)
	start := time.Now()
	status, body, _, msg, err := fetch(ctx, b.net.Peer(reader).API+"/api/v0/cat?arg="+c)
	took := time.Since(start)
	cancel()
	t.Logf("cat with every holder of a block down: %d after %v: %s", status, took.Round(time.Millisecond), msg)
	switch {
	case err != nil:
		t.Errorf("cat with every holder of a block down: no answer after %v: %v", took, err)
	case status != http.StatusNotFound || !strings.Contains(msg, "block not found") || len(body) > 0:
		t.Errorf("cat with every holder of a block down: %d %q (%d bytes), want 404 block not found", status, msg, len(body))
	case !slices.ContainsFunc(dead, func(d string) bool { return strings.Contains(msg, d) }):
		t.Errorf("cat with every holder of a block down: %q names none of the dead blocks %v", msg, dead)
	case took > bound:
		t.Errorf("cat with every holder of a block down: 404 after %v, more than %v", took, bound)
	}

	if err := b.restart(victims); err != nil {
		t.Fatal(err)
	}
	err = waitFor(b.ctx, 20*time.Second, func() error {
		got, err := cat(b.ctx, b.net.Peer(reader).API, c)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, data) {
			return fmt.Errorf("cat %s after the restart: %d bytes differ from the %d added", c, len(got), len(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
