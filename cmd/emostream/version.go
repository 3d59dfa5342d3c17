package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
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

// version and commit are stamped by the build where Go records no VCS
// information (-buildvcs=false, a source tarball, a Docker build context
// without .git):
//
//	go build -ldflags "-X main.version=$(git describe --tags --always --dirty) -X main.commit=$(git rev-parse HEAD)" ./cmd/emostream
//
// scripts/build-image.sh and Containerfile stamp them so. Empty: what Go
// recorded.
var version, commit string

// printVersion prints the version (the stamped one, else the module
// version: a tag, a pseudo-version, or "(devel)" for a build from a work
// tree), the commit (the stamped one, else the one Go recorded and whether
// the tree had uncommitted changes) and the Go version.
func printVersion(w io.Writer) {
	v, c, when := buildVersion()
	if commit != "" && commit != strings.TrimSuffix(c, "+modified") {
		when = "" // the recorded commit's time, not the stamped one's
	}
	fmt.Fprintf(w, "emostream %s commit %s", cmp.Or(version, v), cmp.Or(commit, c))
	if when != "" {
		fmt.Fprintf(w, " (%s)", when)
	}
	fmt.Fprintf(w, " %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// buildVersion is the module version, the commit ("+modified" for a tree
// with uncommitted changes) and its time that Go recorded in the binary.
func buildVersion() (version, commit, when string) {
	version, commit = "(devel)", "(unknown)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, commit, ""
	}
	version = cmp.Or(bi.Main.Version, version)
	modified := false
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
	if modified {
		commit += "+modified"
	}
	return version, commit, when
}
