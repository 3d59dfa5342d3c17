package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func init() {
	register(&command{name: "version", summary: "print the version, commit and Go version of this binary", run: runVersion})
}

func runVersion(_ context.Context, env *environment, args []string) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprintln(env.stdout, "Usage: emostream version\n\nPrints the module version, commit and Go version of this binary (also: emostream --version).")
		return nil
	}
	if len(args) > 0 {
		return fmt.Errorf("version: takes no arguments")
	}
	printVersion(env.stdout)
	return nil
}

// printVersion prints the module version (a tag, or a pseudo-version, or
// "(devel)" for a build from a work tree), the commit and whether the tree
// had uncommitted changes, from the build information Go records.
func printVersion(w io.Writer) {
	version, commit, modified, when := "(devel)", "(unknown)", false, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				when = s.Value
			}
		}
	}
	if modified {
		commit += "+modified"
	}
	fmt.Fprintf(w, "emostream %s commit %s", version, commit)
	if when != "" {
		fmt.Fprintf(w, " (%s)", when)
	}
	fmt.Fprintf(w, " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
