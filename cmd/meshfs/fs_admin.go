package main

import (
	"context"
	"fmt"
)

func runFSAllow(ctx context.Context, args []string, std stdio) error {
	return runFSAccess(ctx, args, std, "allow",
		"Lets the peer PEER-ID (or *, any peer) change the namespace through\n"+
			"its daemon; without it only the voters' daemons may. One change of\n"+
			"the namespace, made by a voter.")
}

func runFSDeny(ctx context.Context, args []string, std stdio) error {
	return runFSAccess(ctx, args, std, "deny",
		"Takes back what allow gave the peer PEER-ID (or *).")
}

func runFSAccess(ctx context.Context, args []string, std stdio, name, description string) error {
	fl, apiURL := fsFlags(name, "[options] PEER-ID", description, std)
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fl, pos, 1, "exactly one PEER-ID (or *)"); err != nil {
		return err
	}
	if err := checkPeerID(fl, pos[0], true); err != nil {
		return err
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	if name == "deny" {
		return c.Deny(ctx, pos[0])
	}
	return c.Allow(ctx, pos[0])
}

func runFSVoters(ctx context.Context, args []string, std stdio) error {
	fl, apiURL := fsFlags("voters", "add|rm [options] PEER-ID",
		"Adds the peer PEER-ID to the namespace's voters, or removes it: a Raft\n"+
			"configuration change, made by the writer. A voter added must run a\n"+
			"daemon that serves the namespace, or the voters may lose their\n"+
			"quorum: with 1 voter, adding a second that never answers stops every\n"+
			"change.", std)
	pos, err := parseFlags(fl, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (pos[0] != "add" && pos[0] != "rm") {
		return usageErr(fl, "give add or rm, then one PEER-ID")
	}
	if err := checkPeerID(fl, pos[1], false); err != nil {
		return err
	}
	c, err := fsClient(fl, *apiURL, "")
	if err != nil {
		return err
	}
	if pos[0] == "rm" {
		if err := c.RemoveVoter(ctx, pos[1]); err != nil {
			return fmt.Errorf("voters rm %s: %w", pos[1], err)
		}
		return nil
	}
	if err := c.AddVoter(ctx, pos[1]); err != nil {
		return fmt.Errorf("voters add %s: %w", pos[1], err)
	}
	return nil
}
