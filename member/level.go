package member

import "fmt"

// Level is a read's consistency.
type Level string

// The consistency levels.
const (
	// Strong reads are linearizable: they see every change committed
	// before they began (a Raft ReadIndex confirmed by a quorum).
	Strong Level = "strong"
	// Sequential reads see a replica's applied state, never older than
	// what this member has already seen or written.
	Sequential Level = "sequential"
	// Eventual reads see the newest valid root record in the DHT, and
	// work while no voter answers.
	Eventual Level = "eventual"
)

// ParseLevel parses a level's name; "" is Strong.
func ParseLevel(s string) (Level, error) {
	switch Level(s) {
	case "":
		return Strong, nil
	case Strong, Sequential, Eventual:
		return Level(s), nil
	}
	return "", fmt.Errorf("consistency %q: want strong, sequential or eventual", s)
}
