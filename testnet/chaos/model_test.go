package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestRegisterModel: the checker accepts what a register allows and
// catches a stale read, a lost write and a read of a value never written;
// an unknown write may or may not have happened.
func TestRegisterModel(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	w := func(c int, v string, from, to int, o Outcome) Op {
		return Op{Client: c, Path: "/r", Write: true, Value: v, Invoke: at(from), Return: at(to), Outcome: o}
	}
	r := func(c int, v string, from, to int) Op {
		return Op{Client: c, Path: "/r", Value: v, Invoke: at(from), Return: at(to), Outcome: OK}
	}
	for _, tc := range []struct {
		name string
		ops  []Op
		want porcupine.CheckResult
	}{
		{"write then read", []Op{w(0, "a", 0, 10, OK), r(1, "a", 20, 30)}, porcupine.Ok},
		{"concurrent read sees either", []Op{w(0, "a", 0, 10, OK), w(0, "b", 20, 40, OK), r(1, "a", 25, 30)}, porcupine.Ok},
		{"stale read", []Op{w(0, "a", 0, 10, OK), w(0, "b", 20, 30, OK), r(1, "a", 40, 50)}, porcupine.Illegal},
		{"lost write", []Op{w(0, "a", 0, 10, OK), r(1, "", 20, 30)}, porcupine.Illegal},
		{"never written", []Op{w(0, "a", 0, 10, OK), r(1, "z", 20, 30)}, porcupine.Illegal},
		{"unknown write seen late", []Op{w(0, "a", 0, 10, OK), w(0, "b", 20, 30, Unknown), r(1, "a", 40, 50), r(1, "b", 60, 70)}, porcupine.Ok},
		{"failed write never seen", []Op{w(0, "a", 0, 10, OK), w(0, "b", 20, 30, Failed), r(1, "a", 40, 50)}, porcupine.Ok},
		{"other paths apart", []Op{w(0, "a", 0, 10, OK), {Client: 1, Path: "/s", Value: "", Invoke: at(20), Return: at(30), Outcome: OK}}, porcupine.Ok},
	} {
		got := porcupine.CheckOperationsTimeout(registerModel, operations(tc.ops, t0.UnixNano()), time.Minute)
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestWritersPerTerm: the log check finds a term claimed by two peers.
func TestWritersPerTerm(t *testing.T) {
	dir := t.TempDir()
	logs := map[int]string{}
	for peer, text := range map[int]string{
		0: "x\n2026-11-26T15:00:00Z namespace: writer for term 2\nnamespace: writer for term 5\n",
		1: "namespace: writer for term 3\n",
		2: "namespace: writer for term 5\n",
	} {
		logs[peer] = filepath.Join(dir, fmt.Sprint(peer))
		if err := os.WriteFile(logs[peer], []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	terms, err := writersPerTerm(logs)
	if err != nil {
		t.Fatal(err)
	}
	if len(terms) != 3 || len(terms[2]) != 1 || len(terms[3]) != 1 || len(terms[5]) != 2 {
		t.Fatalf("writers per term: %v", terms)
	}
}
