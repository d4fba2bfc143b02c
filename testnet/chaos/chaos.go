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
	Paths    int // registers
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
	Faults                      map[string]int
	Result                      porcupine.CheckResult
	Terms                       int // terms that had a writer
	FinalReads                  int
	Files, FilesFailed          int  // adds acknowledged and not
	FilesChecked                bool // every acknowledged file read back whole, with R holders
}

func (s Summary) String() string {
	var faults []string
	for k, v := range s.Faults {
		faults = append(faults, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(faults)
	return fmt.Sprintf("seed %d: %d operations (%d ok, %d failed, %d unknown); faults: %s; linearizability: %s; %d terms, one writer each; %d final reads; %d files added (%d adds failed), read back whole with R holders: %v",
		s.Seed, s.Attempted, s.OK, s.Failed, s.Unkn, strings.Join(faults, ", "), s.Result, s.Terms, s.FinalReads, s.Files, s.FilesFailed, s.FilesChecked)
}

// Run runs the workload under the nemesis, ends the faults, reads every
// register once more, and checks the history and the daemons' logs.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	sum := Summary{Seed: cfg.Seed, Faults: map[string]int{}}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	var paths []string
	for i := range cfg.Paths {
		paths = append(paths, fmt.Sprintf("/chaos/r%d", i))
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
	// The registers' folder first, before any fault.
	mk := &client{id: cfg.Clients, apis: apis, http: hc}
	if err := mk.mkdir(ctx, "/chaos"); err != nil {
		return sum, err
	}

	var h History
	start := time.Now()
	wctx, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	var wg sync.WaitGroup
	for i := range cfg.Clients {
		c := &client{id: i, apis: apis, http: hc, rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))), paths: paths}
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

	// Faults over: every register is read once more, at the strong level,
	// after a writer is back; these reads are part of the history checked.
	if _, err := cfg.Net.WaitWriter(ctx); err != nil {
		return sum, err
	}
	final := &client{id: cfg.Clients + 1, apis: apis, http: hc}
	for _, p := range paths {
		var op Op
		for try := 0; try < 20; try++ {
			op = final.read(ctx, cfg.Net.Peer(0).API, p)
			if op.Outcome == OK {
				break
			}
		}
		if op.Outcome != OK {
			return sum, fmt.Errorf("final read of %s: %s", p, op.Err)
		}
		h.Add(op)
		sum.FinalReads++
	}

	ops := h.Ops()
	for _, op := range ops {
		sum.Attempted++
		switch op.Outcome {
		case OK:
			sum.OK++
		case Failed:
			sum.Failed++
		case Unknown:
			sum.Unkn++
		}
	}
	res, err := checkLinearizable(ops, start, cfg.Dir)
	sum.Result = res
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
