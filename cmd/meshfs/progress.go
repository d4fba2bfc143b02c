package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress draws a one-line progress bar on a terminal, at most ten times a
// second; on anything else it draws nothing.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	label   string
	total   int64 // 0 if unknown
	start   time.Time
	last    time.Time
	now     func() time.Time
	drawn   bool
	enabled bool
}

// newProgress returns a progress bar on w, shown when mode is "always", or
// when it is "auto" and w is a terminal.
func newProgress(w io.Writer, mode, label string, total int64) (*progress, error) {
	p := &progress{w: w, label: label, total: total, now: time.Now}
	switch mode {
	case "always":
		p.enabled = true
	case "never":
	case "auto":
		f, ok := w.(*os.File)
		p.enabled = ok && term.IsTerminal(int(f.Fd()))
	default:
		return nil, fmt.Errorf("--progress must be auto, always or never, not %q", mode)
	}
	p.start = p.now()
	return p, nil
}

// Set records that done bytes are finished.
func (p *progress) Set(done int64) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.last) < 100*time.Millisecond && done != p.total {
		return
	}
	p.last = now
	p.drawn = true
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-3)
	if p.total > 0 {
		pct := float64(done) * 100 / float64(p.total)
		const width = 30
		fill := min(width, int(pct*width/100))
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = ' '
			if i < fill {
				bar[i] = '#'
			}
		}
		fmt.Fprintf(p.w, "\r%s [%s] %5.1f%% %s / %s  %s/s ", p.label, bar, pct, human(done), human(p.total), human(int64(rate)))
	} else {
		fmt.Fprintf(p.w, "\r%s %s  %s/s ", p.label, human(done), human(int64(rate)))
	}
}

// Done ends the bar's line.
func (p *progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// human formats a byte count with binary units.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
