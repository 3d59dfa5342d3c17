package main

import (
	"bytes"
	"context"
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/edge"
	"github.com/emostream/emostream/ingest"
)

// TestConnCapsAddUp: at any open-file limit, up's ingest and edges share
// what the limit less --fd-reserve allows, and every default per-network
// cap stays below its total.
func TestConnCapsAddUp(t *testing.T) {
	for _, c := range []struct {
		soft                   uint64
		edges, ingest, perEdge int
	}{
		{1 << 20, 2, ingest.DefaultMaxConnections, 0}, // every default fits
		{65536, 2, ingest.DefaultMaxConnections, (65536 - 1024 - ingest.DefaultMaxConnections) / 2},
		{4096, 2, 1536, 768},
		{4096, 0, 3072, 0}, // ingest alone: ingest's own default
		{4096, 1, 1536, 1536},
		{1024, 2, 64, 64}, // below the reserve: the minimums
	} {
		files := fileLimit{known: true, soft: c.soft}
		got, _ := ingestConns(files, 0, ingest.DefaultFDReserve, c.edges)
		perEdge := edgeConns(files, got, ingest.DefaultFDReserve, c.edges)
		if got != c.ingest || perEdge != c.perEdge {
			t.Errorf("open-file limit %d, %d edges: ingest %d, each edge %d; want %d, %d", c.soft, c.edges, got, perEdge, c.ingest, c.perEdge)
		}
		if budget := int(c.soft) - ingest.DefaultFDReserve; budget > 2*minShare && perEdge > 0 && got+c.edges*perEdge > budget {
			t.Errorf("open-file limit %d: %d + %d × %d connections, above %d", c.soft, got, c.edges, perEdge, budget)
		}
		if per := min(ingest.DefaultMaxPerNetwork, got); per > got {
			t.Errorf("open-file limit %d: per-network %d above %d", c.soft, per, got)
		}
		if perEdge > 0 && min(edge.DefaultMaxPerNetwork, perEdge) > perEdge {
			t.Errorf("edge per-network above its total")
		}
	}
	if got, _ := ingestConns(fileLimit{}, 0, 1024, 2); got != 0 {
		t.Errorf("unknown open-file limit: %d, want 0 (ingest's default)", got)
	}
	if got, _ := ingestConns(fileLimit{known: true, soft: 4096}, 500, 1024, 2); got != 500 {
		t.Errorf("--max-connections 500 became %d", got)
	}
}

// TestUpCapsWithEmptyWS: up --ws "" still runs one leaf and its edge
// (on a free port), so the edge gets its share of the open-file limit
// too: it kept its default of 100,000 connections beside ingest's
// 3072 of a 4096 limit.
func TestUpCapsWithEmptyWS(t *testing.T) {
	var out bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" },
		files: fileLimit{known: true, soft: 4096, hard: 4096}}
	fs, f, log, err := parseLogged(env, "up", upSynopsis, slices.Concat(quietUp(t)[1:], []string{"--ws", ""}),
		func(fs *flag.FlagSet) *upFlags { return addUpFlags(fs, env) })
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(context.Background(), fs, env, log)
	if err != nil {
		t.Fatal(err)
	}
	if n, e := cfg.Ingest.MaxConnections, cfg.Edge.MaxConnections; n != 1536 || e != 1536 {
		t.Errorf("ingest %d, the edge %d connections; want 1536 each (half the limit less --fd-reserve)", n, e)
	}
}

// TestPerNetworkAboveTotalRefused: a per-network cap above its total,
// given or derived from the open-file limit, ends the command before it
// starts anything, with one line naming both flags.
func TestPerNetworkAboveTotalRefused(t *testing.T) {
	// Free ports everywhere: a command that wrongly starts takes none that
	// matter.
	brokers := []string{"--kafka-brokers", "127.0.0.1:1"}
	ingestArgs := slices.Concat([]string{"ingest", "--listen", "127.0.0.1:0", "--ops", "127.0.0.1:0", "--nats", "nats://127.0.0.1:1"}, brokers)
	upArgs := slices.Concat(quietUp(t), brokers)
	edgeArgs := []string{"edge", "--listen", "127.0.0.1:0", "--ops", "", "--nats", "nats://127.0.0.1:1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{slices.Concat(ingestArgs, []string{"--max-connections", "100", "--max-per-network", "200"}),
			"--max-per-network 200 is above --max-connections 100: one network could hold every connection"},
		{slices.Concat(ingestArgs, []string{"--max-per-network", "4096"}),
			"--max-per-network 4096 is above --max-connections 3072 (its default at an open-file limit of 4096 less --fd-reserve 1024)"},
		{slices.Concat(upArgs, []string{"--max-per-network", "2000"}),
			"--max-per-network 2000 is above --max-connections 1536 (up's default: half the open-file limit of 4096"},
		{slices.Concat(edgeArgs, []string{"--max-connections", "100", "--max-per-network", "200"}),
			"--max-per-network 200 is above --max-connections 100"},
	} {
		var out bytes.Buffer
		env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" },
			files: fileLimit{known: true, soft: 4096, hard: 4096}}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := dispatch(ctx, env, c.args)
		cancel()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want %q", c.args, err, c.want)
		}
	}
	// The defaults: the per-network cap is left to ingest, which keeps it
	// at most the total it is given.
	var out bytes.Buffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	fs := newFlags(env, "ingest", "")
	f := addIngestFlags(fs, env, ingestAlone)
	if err := fs.Parse(brokers); err != nil {
		t.Fatal(err)
	}
	ic, err := f.serverConfig(fs, fileLimit{known: true, soft: 4096}, 0)
	if err != nil || ic.MaxConnections != 3072 || ic.MaxPerNetwork != 0 {
		t.Errorf("defaults at an open-file limit of 4096: --max-connections %d, per network %d (%v); want 3072 and 0 (its default, 3072)",
			ic.MaxConnections, ic.MaxPerNetwork, err)
	}
}
