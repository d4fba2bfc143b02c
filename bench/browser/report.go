package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"meshfs/bench/internal/benchkit"
)

func report(w io.Writer, loads, rounds int, r *results) {
	fmt.Fprintf(w, "\nmeshfs browser bench: %d daemons (R=3, W=2), %s, %d page loads, %d rounds of a %s read and a %s write, GOMAXPROCS=%d, %s\n",
		peers, r.browser, loads, rounds, benchkit.HumanSize(r.readSize), benchkit.HumanSize(r.writeSize), runtime.GOMAXPROCS(0), runtime.Version())
	if cpu := benchkit.CPUModel(); cpu != "" {
		fmt.Fprintf(w, "cpu: %s (%d cores)\n", cpu, runtime.NumCPU())
	}
	fmt.Fprintln(w)
	gzStatus := sizeStatus(r.gzipBytes, targetGzipBytes)
	load := benchkit.Median(r.loads)
	rd, nc, wr := benchkit.Median(r.read), benchkit.Median(r.nativeCat), benchkit.Median(r.write)
	ratio := rd / nc
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "measure\tmedian\tmin .. max\tratio\ttarget\tstatus")
	fmt.Fprintf(tw, "wasm, raw\t%s\t\t\t\t\n", benchkit.HumanSize(r.rawBytes))
	fmt.Fprintf(tw, "wasm, gzip -9 (served)\t%s (%.2f MB)\t\t\t<= 8 MB\t%s\n", benchkit.HumanSize(r.gzipBytes), float64(r.gzipBytes)/1e6, gzStatus)
	fmt.Fprintf(tw, "page load to meshfs.ready\t%.0f ms\t%s ms\t\t\t\n", load, span(r.loads, "%.0f"))
	fmt.Fprintf(tw, "native fs cat (reference)\t%.1f MB/s\t%s\t\t\t\n", nc, span(r.nativeCat, "%.1f"))
	fmt.Fprintf(tw, "browser read, cold\t%.1f MB/s\t%s\t%.3f of native fs cat\t>= %.2f\t%s\n",
		rd, span(r.read, "%.1f"), ratio, targetReadRatio, benchkit.MetOrBelow(ratio, targetReadRatio))
	fmt.Fprintf(tw, "browser write\t%.1f MB/s\t%s\t\t\t\n", wr, span(r.write, "%.1f"))
	tw.Flush()

	fmt.Fprintln(w, "\nwhere the time goes (medians):")
	tw = tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "  page load\twasm downloaded at %.0f ms, compiled and instantiated at %.0f ms, node ready at %.0f ms (%.0f ms starting the node)\n",
		benchkit.Median(r.fetched), benchkit.Median(r.instantiated), load, benchkit.Median(diff(r.loads, r.instantiated)))
	fmt.Fprintf(tw, "  read: namespace stat\t%.1f ms\n", benchkit.Median(r.statMs))
	fmt.Fprintf(tw, "  read: warm readFile (IndexedDB cache)\t%.1f MB/s\n", benchkit.Median(r.warmRead))
	if len(r.fetch) > 0 {
		fmt.Fprintf(tw, "  read: fetch() of the file over HTTP in the page (no wasm)\t%.1f MB/s\n", benchkit.Median(r.fetch))
	}
	if len(r.fetch4) > 0 {
		fmt.Fprintf(tw, "  read: 4 fetch()es of its quarters at once (no wasm)\t%.1f MB/s\n", benchkit.Median(r.fetch4))
	}
	fmt.Fprintf(tw, "  read: sha256 in the page (crypto.subtle, untimed)\t%.0f MB/s\n", benchkit.Median(r.hashMB))
	if len(r.cpu) > 0 {
		var rend, chr, dmn, oth []float64
		for _, c := range r.cpu {
			rend, chr, dmn, oth = append(rend, c.renderer), append(chr, c.chrome), append(dmn, c.daemons), append(oth, c.other)
		}
		fmt.Fprintf(tw, "  read: CPU during the cold read (cores)\trenderer %.2f, other Chromium %.2f, daemons %.2f, rest of the machine %.2f\n",
			benchkit.Median(rend), benchkit.Median(chr), benchkit.Median(dmn), benchkit.Median(oth))
	}
	tw.Flush()
	for _, p := range r.profs {
		printProfile(w, p)
	}
	lines, errs, notable := r.con.summary()
	fmt.Fprintf(w, "\npage console: %d lines, %d errors or exceptions\n", lines, errs)
	for _, m := range notable {
		fmt.Fprintf(w, "  %s\n", m)
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "BENCH wasm_raw_bytes=%d wasm_gzip_bytes=%d target_gzip_bytes=%d status=%s\n", r.rawBytes, r.gzipBytes, int64(targetGzipBytes), gzStatus)
	fmt.Fprintf(w, "BENCH page_ready_ms=%.0f loads=%d wasm_fetched_ms=%.0f wasm_instantiated_ms=%.0f\n",
		load, len(r.loads), benchkit.Median(r.fetched), benchkit.Median(r.instantiated))
	fmt.Fprintf(w, "BENCH browser_read_mbps=%.1f native_cat_mbps=%.1f ratio=%.3f target=%.2f status=%s size=%d warm_read_mbps=%.1f\n",
		rd, nc, ratio, targetReadRatio, benchkit.MetOrBelow(ratio, targetReadRatio), r.readSize, benchkit.Median(r.warmRead))
	fmt.Fprintf(w, "BENCH browser_write_mbps=%.1f size=%d\n", wr, r.writeSize)
}

func printProfile(w io.Writer, p *profileSummary) {
	fmt.Fprintf(w, "\nprofile of one more %s of %s (%.1f MB/s; %v sampled on the page's main thread; CPU: renderer %.2f, other Chromium %.2f, daemons %.2f, rest %.2f cores; %s):\n",
		p.what, benchkit.HumanSize(p.bytes), benchkit.MBps(p.bytes, msDuration(p.ms)), p.total.Round(time.Millisecond), p.cpu.renderer, p.cpu.chrome, p.cpu.daemons, p.cpu.other, p.file)
	pct := func(t timed) float64 { return 100 * t.d.Seconds() / p.total.Seconds() }
	fmt.Fprintln(w, "  by kind of work:")
	for _, k := range p.kinds {
		fmt.Fprintf(w, "  %5.1f%%  %s\n", pct(k), k.name)
	}
	var in []timed
	for _, g := range p.inGroup {
		skip := strings.HasPrefix(g.name, "(") || strings.HasPrefix(g.name, "js: ") || strings.HasPrefix(g.name, "wasm") ||
			strings.HasPrefix(g.name, "js-to-wasm") || g.name == "runtime" || g.name == "main"
		if !skip {
			in = append(in, g)
		}
	}
	fmt.Fprintln(w, "  by package:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  self\tpackage\t\ton stack\tpackage (without runtime and main)")
	for i := range min(12, max(len(p.groups), len(in))) {
		line := "\t\t"
		if i < len(p.groups) {
			line = fmt.Sprintf("  %5.1f%%\t%s\t", pct(p.groups[i]), p.groups[i].name)
		}
		if i < len(in) {
			line += fmt.Sprintf("\t%5.1f%%\t%s", pct(in[i]), in[i].name)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintln(w, "  top functions by self time:")
	for _, f := range p.funcs[:min(15, len(p.funcs))] {
		fmt.Fprintf(w, "  %5.1f%%  %s\n", pct(f), f.name)
	}
}

// sizeStatus says whether a size is within its limit.
func sizeStatus(n int64, limit float64) string {
	if float64(n) <= limit {
		return "MET"
	}
	return "OVER"
}

func span(xs []float64, format string) string {
	return fmt.Sprintf(format+" .. "+format, slices.Min(xs), slices.Max(xs))
}

func diff(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}
