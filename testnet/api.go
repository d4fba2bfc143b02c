package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The parts of the daemon's HTTP API the testnet uses.
const (
	pathPeers     = "/api/v0/peers"
	pathPartition = "/debug/partition"
	pathHeal      = "/debug/heal"
	// requestTimeout bounds one API request of the testnet.
	requestTimeout = 5 * time.Second
)

// daemonPeer is one entry of GET /api/v0/peers: a connected peer (Addrs
// holds its connections' addresses) or a blocked one.
type daemonPeer struct {
	ID      string   `json:"id"`
	Addrs   []string `json:"addrs"`
	InTable bool     `json:"in_routing_table"`
	Blocked string   `json:"blocked"`
}

// apiClient calls daemons' HTTP APIs.
type apiClient struct {
	http *http.Client
}

func newAPIClient() *apiClient {
	return &apiClient{http: &http.Client{Transport: &http.Transport{}}}
}

func (c *apiClient) close() { c.http.CloseIdleConnections() }

// call sends a request with a JSON body (if in is not nil) and decodes the
// JSON answer into out (if not nil), within timeout (0: ctx alone bounds
// it). A status other than 200 is an error that carries the daemon's
// message.
func (c *apiClient) call(ctx context.Context, timeout time.Duration, method, api, path string, in, out any) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(api, "/")+path, body)
	if err != nil {
		return fmt.Errorf("testnet: %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("testnet: %s %s%s: %w", method, api, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("testnet: %s %s%s: %w", method, api, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("testnet: %s %s%s: %s: %s", method, api, path, resp.Status, e.Error)
		}
		return fmt.Errorf("testnet: %s %s%s: %s", method, api, path, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("testnet: %s %s%s: %w", method, api, path, err)
		}
	}
	return nil
}

// peers returns the daemon's connected and blocked peers.
func (c *apiClient) peers(ctx context.Context, api string) ([]daemonPeer, error) {
	var ps []daemonPeer
	err := c.call(ctx, requestTimeout, http.MethodGet, api, pathPeers, nil, &ps)
	return ps, err
}

// partition has the daemon block ids.
func (c *apiClient) partition(ctx context.Context, api string, ids []string) error {
	return c.call(ctx, requestTimeout, http.MethodPost, api, pathPartition, map[string][]string{"peers": ids}, nil)
}

// heal has the daemon unblock every peer it blocked for a partition. The
// daemon redials each of them before it answers, up to 5 s for one whose
// addresses are stale, so only ctx bounds the wait.
func (c *apiClient) heal(ctx context.Context, api string) error {
	return c.call(ctx, 0, http.MethodPost, api, pathHeal, struct{}{}, nil)
}
