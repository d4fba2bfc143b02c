package chaos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// addedFile is a file whose add was acknowledged.
type addedFile struct {
	cid string
	sum [32]byte
}

// adder adds files of new random bytes through random daemons until ctx
// ends, and keeps the acknowledged ones.
type adder struct {
	c      *client
	mu     sync.Mutex
	files  []addedFile
	failed int
}

func (a *adder) run(ctx context.Context) {
	for ctx.Err() == nil {
		apis := a.c.apis()
		if len(apis) == 0 {
			pause(ctx, 10*time.Millisecond)
			continue
		}
		data := make([]byte, 64<<10+a.c.rng.IntN(448<<10))
		for i := range data {
			data[i] = byte(a.c.rng.UintN(256))
		}
		api := apis[a.c.rng.IntN(len(apis))]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v0/add?chunk-size=65536", bytes.NewReader(data))
		if err != nil {
			return
		}
		status, body, _, err := do(a.c.http, req)
		var res struct {
			CID    string `json:"cid"`
			Pinned bool   `json:"pinned"`
		}
		// An add counts once the namespace pinned it: an unpinned one is
		// garbage to the collectors, which run throughout.
		if err == nil && status == http.StatusOK && json.Unmarshal(body, &res) == nil && res.Pinned {
			a.mu.Lock()
			a.files = append(a.files, addedFile{cid: res.CID, sum: sha256.Sum256(data)})
			a.mu.Unlock()
		} else {
			a.mu.Lock()
			a.failed++
			a.mu.Unlock()
		}
	}
}

// checkBlocks runs repair passes on every daemon, then checks that every
// acknowledged file reads back byte-identical and that its root block has
// at least r holders. Repair converges over passes (a home restarted late
// may miss the first), so the passes repeat while some root has fewer
// than r holders, for up to repairRounds rounds.
func checkBlocks(ctx context.Context, apis []string, files []addedFile, r int) error {
	// A repair pass over thousands of files takes a while: no per-request
	// timeout here, ctx bounds it all.
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(7, 7))
	for _, f := range files {
		api := apis[rng.IntN(len(apis))]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v0/cat?arg="+url.QueryEscape(f.cid), nil)
		if err != nil {
			return err
		}
		status, body, kind, err := do(hc, req)
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("acknowledged file %s: cat through %s: %d %s %v (root's holders: %s)", f.cid, api, status, kind, err, holders(ctx, hc, api, f.cid))
		}
		if sha256.Sum256(body) != f.sum {
			return fmt.Errorf("acknowledged file %s reads back different bytes", f.cid)
		}
	}
	var short error
	for round := 0; round < repairRounds; round++ {
		for _, api := range apis {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v0/repair", nil)
			if err != nil {
				return err
			}
			if status, _, kind, err := do(hc, req); err != nil || status != http.StatusOK {
				return fmt.Errorf("repair on %s: %d %s %v", api, status, kind, err)
			}
		}
		if short = rootsHeld(ctx, hc, apis, files, r); short == nil {
			return nil
		}
	}
	return fmt.Errorf("after %d repair rounds: %w", repairRounds, short)
}

// repairRounds bounds the repair passes checkBlocks makes on every daemon.
const repairRounds = 3

// rootsHeld checks that every file's root block has at least r holders,
// as the daemons see them together (a daemon asks only the peers it is
// connected to, which after a partition heals may not be all).
func rootsHeld(ctx context.Context, hc *http.Client, apis []string, files []addedFile, r int) error {
	for _, f := range files {
		seen := map[string]bool{}
		for _, api := range apis {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v0/block/where?arg="+url.QueryEscape(f.cid), nil)
			if err != nil {
				return err
			}
			status, body, kind, err := do(hc, req)
			var where struct {
				Holders []string `json:"holders"`
			}
			if err != nil || status != http.StatusOK || json.Unmarshal(body, &where) != nil {
				return fmt.Errorf("acknowledged file %s: block where: %d %s %v", f.cid, status, kind, err)
			}
			for _, h := range where.Holders {
				seen[h] = true
			}
			if len(seen) >= r {
				break
			}
		}
		if len(seen) < r {
			return fmt.Errorf("acknowledged file %s: %d holders after repair, want %d", f.cid, len(seen), r)
		}
	}
	return nil
}

// holders says which peers hold block c, as api sees it: evidence for a
// failed check.
func holders(ctx context.Context, hc *http.Client, api, c string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v0/block/where?arg="+url.QueryEscape(c), nil)
	if err != nil {
		return err.Error()
	}
	status, body, kind, err := do(hc, req)
	if err != nil || status != http.StatusOK {
		return fmt.Sprintf("%d %s %v", status, kind, err)
	}
	return string(bytes.Join(bytes.Fields(body), nil))
}
