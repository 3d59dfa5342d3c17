// Command emostream runs EmoStream: every stage alone (ingest, bridge,
// processor, hub, leaf, kafka) for a real deployment, or all of them together
// on one machine with "emostream up".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of the binary. Each lives in its own file and
// registers itself from init.
type command struct {
	name    string
	summary string
	// hidden keeps a command that other commands start out of the usage.
	hidden bool
	// run parses args (the arguments after the subcommand name) and blocks
	// until ctx ends or the command is done.
	run func(ctx context.Context, env *environment, args []string) error
}

// environment is what a command may touch outside its flags.
type environment struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// files is the open-file limit, raised by main at start.
	files fileLimit
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("emostream: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := &environment{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		files: raiseFileLimit()}
	err := dispatch(ctx, env, os.Args[1:])
	stop()
	var parse *FlagParseError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.As(err, &parse):
		fmt.Fprintf(os.Stderr, "emostream %v\n", parse)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "emostream: %v\n", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func dispatch(ctx context.Context, env *environment, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stdout)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		printVersion(env.stdout)
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "emostream: unknown command %q\n\n", args[0])
		usage(env.stderr)
		return errUsage
	}
	return c.run(ctx, env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "EmoStream: live emoji swarms from millions of viewers' reactions.")
	fmt.Fprintln(w, "\nUsage: emostream <command> [flags]   (emostream <command> --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery flag also reads an environment variable named after its command and itself:")
	fmt.Fprintln(w, "--kafka-brokers of ingest is EMOSTREAM_INGEST_KAFKA_BROKERS (each command's --help lists them).")
}
