package testnet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// process is one daemon process: started in its own process group, with its
// stdout and stderr appended to a log file, and reaped by a goroutine of its
// own.
type process struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed once the process is reaped
	err  error         // what Wait returned; read only after done is closed
}

// startProcess runs bin with args, its output appended to the file logPath
// after a line that says what was started.
func startProcess(bin string, args []string, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testnet: log: %w", err)
	}
	defer f.Close() // the child has its own copy
	fmt.Fprintf(f, "=== %s testnet starts: %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testnet: start %s: %w", bin, err)
	}
	p := &process{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// signal sends sig; a process already gone is not an error.
func (p *process) signal(sig os.Signal) error {
	err := p.cmd.Process.Signal(sig)
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("testnet: signal %v to pid %d: %w", sig, p.pid(), err)
	}
	return nil
}

// exited reports whether the process has ended and been reaped.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit waits up to timeout for the process to end and reports whether
// it did.
func (p *process) waitExit(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// exitStatus describes how the process ended ("exit status 0", "signal:
// killed"); "" while it runs.
func (p *process) exitStatus() string {
	if !p.exited() {
		return ""
	}
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// cleanExit reports whether the process ended with status 0.
func (p *process) cleanExit() bool { return p.exited() && p.err == nil }

// logTail returns the last lines of a log file (at most 40 lines and 8 KiB),
// for error messages.
func logTail(path string) string {
	const maxBytes, maxLines = 8 << 10, 40
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		if _, err := f.Seek(st.Size()-maxBytes, io.SeekStart); err != nil {
			return fmt.Sprintf("(log: %v)", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(log: %v)", err)
	}
	lines := strings.Split(string(bytes.TrimRight(b, "\n")), "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return strings.Join(lines, "\n")
}
