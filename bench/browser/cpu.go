package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSample is the CPU time used so far by the processes of interest and
// by the whole machine.
type cpuSample struct {
	renderer, chrome, daemons, machine time.Duration
}

// cpuShare is the CPU used over a span of wall time, in cores (1 = one
// core busy all along); other is the rest of the machine's (this program,
// and whatever else runs beside the bench).
type cpuShare struct {
	renderer, chrome, daemons, other float64
}

// userHZ is the unit of /proc/PID/stat's times on Linux.
const userHZ = 100

// sampleCPU reads the CPU time of Chromium's renderers (the page's Go and
// JavaScript run on a renderer's main thread), of Chromium's other
// processes (the network service carries the WebSockets) and of the meshfs
// daemons. It returns zeros where /proc is not there.
func sampleCPU() cpuSample {
	var s cpuSample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu  user nice system idle iowait irq softirq steal ...
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line) {
			if v, err := strconv.ParseInt(f, 10, 64); err == nil && i != 4 && i != 5 && i <= 8 {
				s.machine += time.Duration(v) * time.Second / userHZ
			}
		}
	}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ... utime stime: fields 14 and 15.
		i := bytes.LastIndexByte(stat, ')')
		j := bytes.IndexByte(stat, '(')
		if i < 0 || j < 0 {
			continue
		}
		comm := string(stat[j+1 : i])
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		t := time.Duration(ut+st) * time.Second / userHZ
		switch {
		case comm == "meshfs":
			s.daemons += t
		case strings.Contains(comm, "chrom"):
			cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
			if bytes.Contains(cmdline, []byte("--type=renderer")) {
				s.renderer += t
			} else {
				s.chrome += t
			}
		}
	}
	return s
}

// since returns the CPU used from before to s over wall time d.
func (s cpuSample) since(before cpuSample, d time.Duration) cpuShare {
	if d <= 0 {
		return cpuShare{}
	}
	w := d.Seconds()
	c := cpuShare{
		renderer: (s.renderer - before.renderer).Seconds() / w,
		chrome:   (s.chrome - before.chrome).Seconds() / w,
		daemons:  (s.daemons - before.daemons).Seconds() / w,
	}
	c.other = max(0, (s.machine-before.machine).Seconds()/w-c.renderer-c.chrome-c.daemons)
	return c
}

// gunzipLen returns the length of r's decompressed content.
func gunzipLen(r io.Reader) (int64, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	return io.Copy(io.Discard, zr)
}
