package fsclient

import (
	"errors"
	"fmt"
	"net/http"

	"meshfs/member"
)

// Option configures a Client; pass options to New. Giving the same option
// twice is an error.
type Option func(*config) error

// config is what the options set.
type config struct {
	http     *http.Client
	level    member.Level
	hook     func(*http.Request) error
	memLimit int64
	set      map[string]bool
}

// DefaultMemoryLimit is how many changed bytes an open file keeps in memory
// before it moves them to a temporary file.
const DefaultMemoryLimit = 8 << 20

func defaultConfig() config {
	return config{http: http.DefaultClient, level: member.Strong, memLimit: DefaultMemoryLimit, set: map[string]bool{}}
}

// once marks option name as given, failing if it was already.
func (c *config) once(name string) error {
	if c.set[name] {
		return fmt.Errorf("fsclient: option %s given twice", name)
	}
	c.set[name] = true
	return nil
}

// WithHTTPClient sends the requests through h (default http.DefaultClient).
func WithHTTPClient(h *http.Client) Option {
	return func(c *config) error {
		if h == nil {
			return errors.New("fsclient: WithHTTPClient(nil)")
		}
		c.http = h
		return c.once("WithHTTPClient")
	}
}

// WithConsistency sets the level of the client's reads (stat, ls, open,
// read, root): member.Strong (the default) sees every change committed
// before the read began; member.Sequential a voter's applied state, never
// older than what that daemon has seen; member.Eventual the newest root
// record in the DHT. Writes and the checks a commit makes are always
// strong.
func WithConsistency(l member.Level) Option {
	return func(c *config) error {
		l, err := member.ParseLevel(string(l))
		if err != nil {
			return fmt.Errorf("fsclient: %w", err)
		}
		c.level = l
		return c.once("WithConsistency")
	}
}

// WithRequestHook calls f on every request before it is sent, for example
// to add an authorization header; an error from f fails the request.
func WithRequestHook(f func(*http.Request) error) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("fsclient: WithRequestHook(nil)")
		}
		c.hook = f
		return c.once("WithRequestHook")
	}
}

// WithMemoryLimit sets how many changed bytes an open file keeps in memory
// before it moves them to a temporary file (default DefaultMemoryLimit; 0
// keeps them all in memory, as happens where no temporary file can be
// made, in a browser for one).
func WithMemoryLimit(n int64) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("fsclient: WithMemoryLimit(%d): negative", n)
		}
		c.memLimit = n
		return c.once("WithMemoryLimit")
	}
}
