package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	meshpeer "meshfs/peer"
)

// cat asks the daemon for a file's bytes (a range of them if length >= 0)
// and returns the body and the whole file's size. The body fails with
// io.ErrUnexpectedEOF if the transfer breaks.
func (c *client) cat(ctx context.Context, root string, offset, length int64) (io.ReadCloser, int64, error) {
	q := url.Values{"arg": {root}, "offset": {strconv.FormatInt(offset, 10)}, "length": {strconv.FormatInt(length, 10)}}
	resp, err := c.do(ctx, http.MethodGet, apiCat, q, nil)
	if err != nil {
		return nil, 0, err
	}
	size, _ := strconv.ParseInt(resp.Header.Get(headerSize), 10, 64)
	return resp.Body, size, nil
}

func runGet(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("get", "[options] CID -o FILE",
		"Fetches the file CID through the daemon, verified block by block, into\n"+
			"FILE. The bytes go to a temporary file beside FILE that replaces it\n"+
			"only when the whole file has arrived, so FILE is never half written.", std.errout)
	apiURL := apiFlag(fs)
	out := fs.String("o", "", "the `FILE` to write (required)")
	progressMode := fs.String("progress", "auto", "progress bar on stderr: auto (when a terminal), always, never")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageErr(fs, "give -o FILE")
	}
	c, err := oneCID(fs, pos)
	if err != nil {
		return err
	}
	cl, err := newClient(*apiURL)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	rc, size, err := cl.cat(ctx, c.String(), 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	bar, err := newProgress(std.errout, *progressMode, "getting", size)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	f, err := os.CreateTemp(filepath.Dir(*out), ".meshfs-get-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = io.Copy(&countingWriter{w: f, tell: bar.Set}, rc)
	bar.Done()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", c, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), *out)
}

func runBlock(ctx context.Context, args []string, std stdio) error {
	if len(args) == 0 || args[0] != "where" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintf(std.errout, "Usage: meshfs block where [options] CID\n\nPrints the peers that hold the block CID, one peer ID a line, asked live.\n")
			return nil
		}
		fmt.Fprintf(std.errout, "Usage: meshfs block where [options] CID\n")
		return errUsage
	}
	fs := newFlags("block where", "[options] CID",
		"Asks every live peer, now, whether it holds the block CID, and prints\n"+
			"those that do, one peer ID a line.", std.errout)
	apiURL := apiFlag(fs)
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	c, err := oneCID(fs, pos)
	if err != nil {
		return err
	}
	cl, err := newClient(*apiURL)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	var res struct {
		Holders []string `json:"holders"`
	}
	if err := cl.getJSON(ctx, apiWhere, url.Values{"arg": {c.String()}}, &res); err != nil {
		return err
	}
	for _, h := range res.Holders {
		fmt.Fprintln(std.out, h)
	}
	return nil
}

func runStatus(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("status", "[options]",
		"Prints the daemon's peer ID, addresses, peers, routing table, stored\n"+
			"blocks and bytes, repair backlog, and its namespace: the writer and\n"+
			"term, and this peer's part.", std.errout)
	apiURL := apiFlag(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := newClient(*apiURL)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	var st meshpeer.Status
	if err := cl.getJSON(ctx, apiStatus, nil, &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "peer\t%s\n", st.ID)
	for i, a := range st.Addrs {
		label := ""
		if i == 0 {
			label = "addresses"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	fmt.Fprintf(tw, "connected peers\t%d\n", st.Connected)
	fmt.Fprintf(tw, "routing table\t%d peers\n", st.RoutingTable)
	fmt.Fprintf(tw, "stored\t%d blocks, %s\n", st.Blocks, human(st.Bytes))
	fmt.Fprintf(tw, "read cache\t%d blocks, %s\n", st.CacheBlocks, human(st.CacheBytes))
	fmt.Fprintf(tw, "replication\tR=%d W=%d\n", st.Replication, st.WriteQuorum)
	last := "never"
	if !st.LastRepair.IsZero() {
		last = st.LastRepair.Format(time.RFC3339)
	}
	fmt.Fprintf(tw, "repair backlog\t%d block copies (%d passes, last %s)\n", st.RepairBacklog, st.RepairPasses, last)
	if g := st.GC; g != nil {
		fmt.Fprintf(tw, "collection\tlive %s, pinned %s, leased %s, dead awaiting %s; last pass %s deleted %s\n",
			human(g.Live.Bytes), human(g.Pinned.Bytes), human(g.Leased.Bytes), human(g.Waiting.Bytes),
			g.Time.Format(time.RFC3339), human(g.Deleted.Bytes))
	}
	// The namespace, if the daemon serves one.
	var ns struct {
		Namespace string `json:"namespace"`
		Writer    string `json:"writer"`
		Term      uint64 `json:"term"`
		Voter     bool   `json:"voter"`
		Applied   uint64 `json:"applied"`
	}
	if err := cl.getJSON(ctx, apiFS+"writer", nil, &ns); err == nil {
		role := "not a voter"
		if ns.Voter {
			role = fmt.Sprintf("voter, applied index %d", ns.Applied)
		}
		writer := ns.Writer
		if writer == "" {
			writer = "none known"
		}
		fmt.Fprintf(tw, "namespace\t%s: writer %s (term %d); this peer: %s\n", ns.Namespace, writer, ns.Term, role)
	}
	return tw.Flush()
}

func runPeers(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("peers", "[options]",
		"Lists the daemon's connected peers: peer ID, whether it is in the DHT\n"+
			"routing table, latency, and its address.", std.errout)
	apiURL := apiFlag(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cl, err := newClient(*apiURL)
	if err != nil {
		return usageErr(fs, "%v", err)
	}
	var ps []meshpeer.PeerInfo
	if err := cl.getJSON(ctx, apiPeers, nil, &ps); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(std.out, 0, 0, 2, ' ', 0)
	for _, p := range ps {
		var notes []string
		if p.InTable {
			notes = append(notes, "dht")
		}
		if p.Blocked != "" {
			notes = append(notes, "blocked: "+p.Blocked)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, strings.Join(notes, ","), p.Latency, strings.Join(p.Addrs, " "))
	}
	return tw.Flush()
}
