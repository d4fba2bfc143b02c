package chaos

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"
)

// checkLinearizable checks the history with porcupine, one folder of the
// key space at a time; on failure it writes the visualization into dir
// and names it in the error.
func checkLinearizable(ops []Op, keys keySpace, start time.Time, dir string) (porcupine.CheckResult, error) {
	history, err := operations(ops, keys, start.UnixNano())
	if err != nil {
		return porcupine.Unknown, err
	}
	res, info := porcupine.CheckOperationsVerbose(fsModel, history, 2*time.Minute)
	if res == porcupine.Ok {
		return res, nil
	}
	out := filepath.Join(dir, "linearizability.html")
	f, err := os.Create(out)
	if err == nil {
		err = porcupine.Visualize(fsModel, info, f)
		f.Close()
	}
	if err != nil {
		return res, fmt.Errorf("history is %s (and its visualization failed: %v)", res, err)
	}
	return res, fmt.Errorf("history is %s: see %s", res, out)
}

// writerLine is what a daemon logs when it becomes the writer.
var writerLine = regexp.MustCompile(`namespace: writer for term (\d+)`)

// writersPerTerm reads the daemons' logs and returns, for each term, the
// peers that said they were its writer.
func writersPerTerm(logs map[int]string) (map[uint64][]int, error) {
	terms := map[uint64][]int{}
	for peer, path := range logs {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if m := writerLine.FindStringSubmatch(sc.Text()); m != nil {
				t, _ := strconv.ParseUint(m[1], 10, 64)
				if !slices.Contains(terms[t], peer) {
					terms[t] = append(terms[t], peer)
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return terms, nil
}
