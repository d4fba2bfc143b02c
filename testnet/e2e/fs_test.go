package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// fsAnswer is a namespace API answer: a commit, a stat, or an error.
type fsAnswer struct {
	Status int
	Kind   string `json:"kind"`
	Error  string `json:"error"`
	Index  uint64 `json:"index"`
	Term   uint64 `json:"term"`
	CID    string `json:"cid"`
	Size   uint64 `json:"size"`
	Path   string `json:"path"`
	Writer string `json:"writer"`
}

// fsCall calls /api/v0/fs/OP on the daemon at api with the query q and
// body (POST if body is not nil). Error answers are returned as answers;
// err is for failed calls.
func fsCall(ctx context.Context, api, op string, q url.Values, body []byte) (fsAnswer, error) {
	method, r := http.MethodGet, io.Reader(nil)
	if body != nil {
		method, r = http.MethodPost, bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, api+"/api/v0/fs/"+op+"?"+q.Encode(), r)
	if err != nil {
		return fsAnswer{}, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fsAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fsAnswer{}, err
	}
	var a fsAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return fsAnswer{}, fmt.Errorf("%s %s: %s: %q", method, op, resp.Status, b)
	}
	a.Status = resp.StatusCode
	return a, nil
}

// fsWrite writes data as the whole content of p through api.
func fsWrite(ctx context.Context, api, p string, data []byte, extra ...string) (fsAnswer, error) {
	q := url.Values{"arg": {p}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return fsCall(ctx, api, "write", q, data)
}

// fsStat stats p at the consistency level through api.
func fsStat(ctx context.Context, api, p, level string) (fsAnswer, error) {
	return fsCall(ctx, api, "stat", url.Values{"arg": {p}, "consistency": {level}}, nil)
}

// fsCat reads p at the consistency level through api.
func fsCat(ctx context.Context, api, p, level string) ([]byte, error) {
	q := url.Values{"arg": {p}, "consistency": {level}}
	return getBody(ctx, api+"/api/v0/fs/cat?"+q.Encode(), "")
}

// getBody GETs u (with an Accept header if accept is not "") and returns
// the body of a 200 answer.
func getBody(ctx context.Context, u, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return b, err
}

// gatewayRaw fetches one block through the daemon's IPFS gateway.
func gatewayRaw(ctx context.Context, api, c string) ([]byte, error) {
	return getBody(ctx, api+"/ipfs/"+c, "application/vnd.ipld.raw")
}
