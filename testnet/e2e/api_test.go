package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"meshfs/testnet"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// httpClient bounds every API call of the tests.
var httpClient = &http.Client{Timeout: 60 * time.Second}

// add stores data through the daemon at api and returns the file's CID.
func add(ctx context.Context, api string, data []byte, chunk int) (string, error) {
	u := api + "/api/v0/add?chunk-size=" + strconv.Itoa(chunk)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return "", err
	}
	var res struct {
		CID string `json:"cid"`
	}
	if err := call(req, &res); err != nil {
		return "", err
	}
	return res.CID, nil
}

// cat reads the whole file c through the daemon at api.
func cat(ctx context.Context, api, c string) ([]byte, error) {
	return getBody(ctx, api+"/api/v0/cat?arg="+url.QueryEscape(c), "")
}

// where asks the daemon at api which peers hold block c.
func where(ctx context.Context, api, c string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v0/block/where?arg="+url.QueryEscape(c), nil)
	if err != nil {
		return nil, err
	}
	var res struct {
		Holders []string `json:"holders"`
	}
	return res.Holders, call(req, &res)
}

func call(req *http.Request, v any) error {
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// waitFor is testnet.WaitFor.
func waitFor(ctx context.Context, d time.Duration, cond func() error) error {
	return testnet.WaitFor(ctx, d, cond)
}
