package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"meshfs/testnet"
)

// Config says what a run does.
type Config struct {
	Net      *testnet.Net // running, its first Voters peers the namespace's voters
	Voters   int
	Seed     uint64
	Duration time.Duration // of the workload under the nemesis
	Clients  int
	// Dirs and Names shape the key space: Dirs folders /chaos/d0...,
	// each holding Names names (a, b, ... at most 4) and an x inside
	// each of them that is a folder. The history is checked one folder
	// at a time.
	Dirs, Names int
	// Replication is R: the holders every acknowledged file's root must
	// have at the end.
	Replication int
	Dir         string // where a failed check writes its visualization
	Logf        func(format string, args ...any)
}

// Summary is what a run did and found.
type Summary struct {
	Seed                        uint64
	Attempted, OK, Failed, Unkn int
	ByKind                      map[Kind]*KindCount
	Faults                      map[string]int
	Result                      porcupine.CheckResult
	CheckTime                   time.Duration // porcupine's
	Terms                       int           // terms that had a writer
	FinalReads                  int
	Files, FilesFailed          int  // adds acknowledged and not
	FilesChecked                bool // every acknowledged file read back whole, with R holders
}

// KindCount is how the operations of one kind ended: OK counts those
// refused with a definite error too, Refused those alone (by error kind),
// Why the failed ones (by status and kind).
type KindCount struct {
	OK, Failed, Unknown int
	Refused, Why        map[string]int
}

func (k *KindCount) String() string {
	s := fmt.Sprintf("%d ok", k.OK)
	if len(k.Refused) > 0 {
		s += " " + counts(k.Refused)
	}
	s += fmt.Sprintf(", %d failed", k.Failed)
	if k.Failed > 0 {
		s += " " + counts(k.Why)
	}
	return s + fmt.Sprintf(", %d unknown", k.Unknown)
}

// counts shows a tally as [key n, ...], in key order.
func counts(m map[string]int) string {
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(out)
	return "[" + strings.Join(out, ", ") + "]"
}

func (s Summary) String() string {
	var faults []string
	for k, v := range s.Faults {
		faults = append(faults, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(faults)
	var kinds []string
	for _, k := range Kinds {
		if c := s.ByKind[k]; c != nil {
			kinds = append(kinds, fmt.Sprintf("%s: %v", k, c))
		}
	}
	return fmt.Sprintf("seed %d: %d operations (%d ok, %d failed, %d unknown; %s); faults: %s; linearizability: %s (checked in %v); %d terms, one writer each; %d final reads; %d files added (%d adds failed), read back whole with R holders: %v",
		s.Seed, s.Attempted, s.OK, s.Failed, s.Unkn, strings.Join(kinds, "; "), strings.Join(faults, ", "), s.Result, s.CheckTime.Round(time.Millisecond),
		s.Terms, s.FinalReads, s.Files, s.FilesFailed, s.FilesChecked)
}

// Run runs the workload under the nemesis, ends the faults, reads every
// path and folder of the key space once more, and checks the history and
// the daemons' logs.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	sum := Summary{Seed: cfg.Seed, Faults: map[string]int{}, ByKind: map[Kind]*KindCount{}}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	keys := keySpace{Root: "/chaos", Dirs: cfg.Dirs, Names: cfg.Names}
	if keys.Dirs < 1 || keys.Names < 1 || keys.Names > maxNames {
		return sum, fmt.Errorf("chaos: %d folders of %d names: want at least 1 folder and 1 to %d names", keys.Dirs, keys.Names, maxNames)
	}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer hc.CloseIdleConnections()
	apis := func() []string {
		var out []string
		for _, p := range cfg.Net.Peers() {
			if p.State == testnet.Running {
				out = append(out, p.API)
			}
		}
		return out
	}
	// The key space's folders first, before any fault.
	mk := &client{id: cfg.Clients, apis: apis, http: hc}
	for j := range keys.Dirs {
		if err := mk.mkdir(ctx, keys.dir(j)); err != nil {
			return sum, err
		}
	}

	var h History
	start := time.Now()
	wctx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		c := &client{id: i, apis: apis, http: hc, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), keys: keys}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.run(wctx, &h)
		}()
	}
	add := &adder{c: &client{id: cfg.Clients + 2, apis: apis, http: hc, rng: rand.New(rand.NewPCG(cfg.Seed, 1<<33))}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		add.run(wctx)
	}()
	nem := &nemesis{net: cfg.Net, voters: cfg.Voters, rng: rand.New(rand.NewPCG(cfg.Seed, 1<<32)), logf: cfg.Logf, faults: sum.Faults}
	nemErr := nem.run(wctx)
	wg.Wait()
	if nemErr != nil && !errors.Is(nemErr, context.DeadlineExceeded) {
		return sum, nemErr
	}

	// Faults over: every path and folder is read once more, at the strong
	// level, after a writer is back; these reads are part of the history
	// checked, so an acknowledged change that was lost (or one that was
	// refused but shows) fails the check: the tree must end in a state
	// the acknowledged changes, and any of the unknown ones, lead to.
	if _, err := cfg.Net.WaitWriter(ctx); err != nil {
		return sum, err
	}
	final := &client{id: cfg.Clients + 1, apis: apis, http: hc}
	var finals []Op
	for j := range keys.Dirs {
		finals = append(finals, Op{Client: final.id, Kind: List, Path: keys.dir(j)})
		for _, s := range keys.slots() {
			finals = append(finals, Op{Client: final.id, Kind: Read, Path: keys.path(j, s)})
		}
	}
	for _, f := range finals {
		var op Op
		for try := 0; try < 20; try++ {
			op = final.do(ctx, cfg.Net.Peer(0).API, f)
			if op.Outcome == OK {
				break
			}
		}
		if op.Outcome != OK {
			return sum, fmt.Errorf("final %s of %s: %s", op.Kind, op.Path, op.Err)
		}
		h.Add(op)
		sum.FinalReads++
	}

	ops := h.Ops()
	for _, op := range ops {
		sum.Attempted++
		k := sum.ByKind[op.Kind]
		if k == nil {
			k = &KindCount{Refused: map[string]int{}, Why: map[string]int{}}
			sum.ByKind[op.Kind] = k
		}
		switch op.Outcome {
		case OK:
			sum.OK++
			k.OK++
			if op.Result != "" {
				k.Refused[op.Result]++
			}
		case Failed:
			sum.Failed++
			k.Failed++
			why := op.Err
			if len(why) > 40 {
				why = why[:40]
			}
			k.Why[why]++
		case Unknown:
			sum.Unkn++
			k.Unknown++
		}
	}
	checkStart := time.Now()
	res, err := checkLinearizable(ops, keys, start, cfg.Dir)
	sum.Result, sum.CheckTime = res, time.Since(checkStart)
	if err != nil {
		return sum, fmt.Errorf("seed %d: %w", cfg.Seed, err)
	}
	logs := map[int]string{}
	for _, p := range cfg.Net.Peers() {
		logs[p.Index] = p.Log
	}
	terms, err := writersPerTerm(logs)
	if err != nil {
		return sum, err
	}
	for t, ws := range terms {
		if len(ws) > 1 {
			return sum, fmt.Errorf("seed %d: term %d had writers %v", cfg.Seed, t, ws)
		}
	}
	sum.Terms = len(terms)

	// Blocks: every acknowledged add reads back whole, and its root has R
	// holders once repair has run.
	sum.Files, sum.FilesFailed = len(add.files), add.failed
	if err := checkBlocks(ctx, apis(), add.files, cfg.Replication); err != nil {
		return sum, fmt.Errorf("seed %d: %w", cfg.Seed, err)
	}
	sum.FilesChecked = true
	return sum, nil
}

// mkdir makes the folder p (parents too) through any daemon, trying again
// while no writer answers.
func (c *client) mkdir(ctx context.Context, p string) error {
	var last string
	for try := 0; try < 50; try++ {
		for _, api := range c.apis() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v0/fs/mkdir?parents=1&arg="+p, nil)
			if err != nil {
				return err
			}
			status, _, kind, err := do(c.http, req)
			if err == nil && status == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s %v", status, kind, err)
		}
		if !pause(ctx, 100*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("mkdir %s: %s", p, last)
}
