package stack_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// The hostile clients of the hardening issue, each run against the whole
// stack in this process while a legitimate client posts one event of the
// live match "legit" every 100 ms and a WebSocket viewer counts them. Each
// benchmark reports what the legitimate client lost (accepted but never
// counted) and how late its windows were, what the attacker got accepted,
// and the process's memory (Go heap after a GC; VmRSS and its peak VmHWM,
// which include the attacker's own client in this process). docs/reliability.md,
// "Hostile clients", has the figures.
//
//	go test -run '^$' -bench Hostile -benchtime 1x -count 3 ./stack/
//
// Every attack is bounded in count and time and sends only to loopback.

const (
	quietWindows = 12               // windows of legitimate traffic alone, for the quiet lag
	floodFor     = 24 * time.Second // the match flood's length (12 windows)
)

// BenchmarkHostileMatchFlood: a flood of distinct match ids (one event
// each, 64-byte ids) while a legitimate match is live. "refused-10k" sends
// them at the per-network rate limit (10,000 events/s), "refused-unpaced"
// as fast as two connections can; both are 404 unknown_match. With
// "auto-matches" the stack admits the first 1,000 unknown ids (dev mode,
// --auto-matches 1000): the attacker creates them and then posts to them at
// the rate limit, while also sending new ids. Reports the legitimate
// match's window delivery lag p99, quiet and under the flood, and its ratio.
func BenchmarkHostileMatchFlood(b *testing.B) {
	b.Run("refused-10k", func(b *testing.B) { benchMatchFlood(b, 0, 100*time.Millisecond) })
	b.Run("refused-unpaced", func(b *testing.B) { benchMatchFlood(b, 0, 0) })
	b.Run("auto-matches", func(b *testing.B) { benchMatchFlood(b, 1000, 100*time.Millisecond) })
}

func benchMatchFlood(b *testing.B, auto int, every time.Duration) {
	s := startScenario(b, stack.Config{Registry: registry.Config{AutoMatches: auto}}, quietWindows)
	base := s.st.HTTPURL()
	var sent, accepted, refused, limited, other, created atomic.Int64
	newIDs := func(w, r int) []byte {
		return eventsJSON(1000, func(i int) (string, string, string) {
			return fmt.Sprintf("a-%d-%d-%d", w, r, i), matchID64(fmt.Sprintf("f%d", w), r*1000+i), "🔥"
		})
	}
	count := func(a answer, n int) {
		sent.Add(int64(n))
		switch a.status {
		case http.StatusAccepted:
			accepted.Add(int64(a.accepted))
		case http.StatusNotFound:
			refused.Add(int64(n))
		case http.StatusTooManyRequests:
			limited.Add(int64(n))
		default:
			other.Add(1)
		}
	}
	s.run(floodFor, func(deadline time.Time) {
		var wg sync.WaitGroup
		// The attacker's /24 is 127.0.9.0/24, the legitimate client's 127.0.0.0/24.
		flood := func(w int, body func(r int) []byte) {
			defer wg.Done()
			client := clientFrom(fmt.Sprintf("127.0.9.%d", w+1), 30*time.Second, true)
			defer client.CloseIdleConnections()
			const maxRequests = 4000
			next := time.Now()
			for r := 0; r < maxRequests && time.Now().Before(deadline); r++ {
				if every > 0 {
					sleepUntil(next)
					next = next.Add(every)
				}
				bd := body(r)
				count(send(client, base, bd, nil), bytes.Count(bd, []byte(`"user_id"`)))
			}
		}
		if auto == 0 {
			workers := 1
			if every == 0 {
				workers = 2
			}
			for w := range workers {
				wg.Add(1)
				go flood(w, func(r int) []byte { return newIDs(w, r) })
			}
			wg.Wait()
			return
		}
		// Dev mode: take the auto matches, then post to them at the rate
		// limit, rotating users, while a second connection tries new ids.
		client := clientFrom("127.0.9.100", time.Minute, true)
		var owned []string
		for r := 0; len(owned) < auto && r < 10 && time.Now().Before(deadline); r++ {
			n := min(1000, auto-len(owned))
			ids := make([]string, n)
			body := eventsJSON(n, func(i int) (string, string, string) {
				ids[i] = matchID64("own", r*1000+i)
				return fmt.Sprintf("c-%d-%d", r, i), ids[i], "🔥"
			})
			a := send(client, base, body, nil)
			count(a, n)
			if a.status != http.StatusAccepted {
				break
			}
			owned = append(owned, ids...)
		}
		client.CloseIdleConnections()
		created.Store(int64(len(owned)))
		if len(owned) == 0 {
			b.Errorf("dev mode: the attacker created no match")
			return
		}
		wg.Add(2)
		go flood(1, func(r int) []byte { return newIDs(1, r) })
		go flood(2, func(r int) []byte {
			return eventsJSON(1000, func(i int) (string, string, string) {
				return fmt.Sprintf("o-%d-%d", r, i), owned[(r*1000+i)%len(owned)], wire.DefaultEmojis[i%len(wire.DefaultEmojis)]
			})
		})
		wg.Wait()
	})
	quiet := s.v.lags(s.quiet[0], s.quiet[1])
	lost := s.finish()
	flood := s.v.lags(s.attack[0], s.attack[1].Add(benchWindow))
	q99, f99 := percentile(quiet, 99), percentile(flood, 99)
	b.ReportMetric(q99, "lag_p99_quiet_ms")
	b.ReportMetric(f99, "lag_p99_flood_ms")
	b.ReportMetric(percentile(quiet, 50), "lag_p50_quiet_ms")
	b.ReportMetric(percentile(flood, 50), "lag_p50_flood_ms")
	if q99 > 0 {
		b.ReportMetric(f99/q99, "lag_ratio")
	}
	secs := s.attack[1].Sub(s.attack[0]).Seconds()
	b.ReportMetric(float64(sent.Load())/secs, "attack_events/s")
	b.ReportMetric(float64(sent.Load()), "attack_sent")
	b.ReportMetric(float64(accepted.Load()), "attack_accepted")
	b.ReportMetric(float64(refused.Load()), "attack_404")
	b.ReportMetric(float64(limited.Load()), "attack_429")
	b.ReportMetric(float64(created.Load()), "matches_created")
	if other.Load() > 0 {
		b.Errorf("%d flood requests answered neither 202, 404 nor 429", other.Load())
	}
	b.Logf("quiet lags %v; flood lags %v; lost %d", quiet, flood, lost)
}

// BenchmarkHostileWindowSplit: the attack that lost acked events for good.
// In dev mode (--auto-matches 2000) the attacker takes 2,000 matches with
// 64-byte ids, then within one window sends 24,000 events, every (match,
// emoji) pair of them once, all on one Kafka partition (each request's
// first user is the same): one partial of 24,000 keys, over 2 MB unsplit,
// double the hub's 1 MiB max_payload. Every accepted event must be counted
// exactly once: the legitimate ones at the viewer, the attacker's in the
// swarms stored in the stream.
func BenchmarkHostileWindowSplit(b *testing.B) {
	const splitDrain = 3 * time.Minute
	const matches = 2000
	s := startScenario(b, stack.Config{Registry: registry.Config{AutoMatches: matches}}, 2)
	base := s.st.HTTPURL()
	var accepted atomic.Int64
	windows := map[int64]int{}
	var mu sync.Mutex
	s.run(time.Minute, func(deadline time.Time) {
		client := clientFrom("127.0.9.1", time.Minute, true)
		defer client.CloseIdleConnections()
		for r := range matches / 1000 { // take the matches
			a := send(client, base, eventsJSON(1000, func(i int) (string, string, string) {
				return fmt.Sprintf("c-%d-%d", r, i), matchID64("w", r*1000+i), "🔥"
			}), nil)
			if a.status != http.StatusAccepted {
				b.Fatalf("creating matches: %d %s", a.status, a.code)
			}
			accepted.Add(int64(a.accepted))
		}
		sleepUntil(nextWindow(time.Now()).Add(50 * time.Millisecond))
		var wg sync.WaitGroup
		reqs := make(chan int, 2*len(wire.DefaultEmojis))
		for r := range cap(reqs) {
			reqs <- r
		}
		close(reqs)
		for w := range 4 { // two networks: 12,000 events each, under the 20,000 burst
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := clientFrom(fmt.Sprintf("127.0.%d.1", 9+w%2), time.Minute, true)
				defer c.CloseIdleConnections()
				for r := range reqs {
					body := eventsJSON(1000, func(i int) (string, string, string) {
						user := fmt.Sprintf("k-%d-%d", r, i)
						if i == 0 {
							user = "same-partition"
						}
						return user, matchID64("w", (r%2)*1000+i), wire.DefaultEmojis[r/2]
					})
					a := send(c, base, body, nil)
					if a.status != http.StatusAccepted {
						b.Errorf("window request %d: %d %s %v", r, a.status, a.code, a.err)
						continue
					}
					accepted.Add(int64(a.accepted))
					mu.Lock()
					for _, w := range a.windows {
						windows[w] += a.accepted
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	})
	want := accepted.Load()
	var got int64
	start := time.Now()
	deadline, progress := start.Add(splitDrain), start
	for {
		got = 0
		counts := streamCounts(b, s.st)
		for i := range matches {
			for _, n := range counts[matchID64("w", i)] {
				got += n
			}
		}
		if got >= want || time.Now().After(deadline) {
			break
		}
		if time.Since(progress) > 5*time.Second {
			progress = time.Now()
			b.Logf("%v after the attack: %d of %d counted; %s", progress.Sub(start).Round(time.Second), got, want, stageFigures(s.st.Registry))
		}
		time.Sleep(500 * time.Millisecond) // a poll interval, bounded by splitDrain
	}
	b.ReportMetric(time.Since(start).Seconds(), "attack_drain_s")
	s.finish()
	b.ReportMetric(float64(want), "attack_accepted")
	b.ReportMetric(float64(want-got), "attack_lost")
	b.ReportMetric(gatherSum(s.st.Registry, "emostream_bridge_partial_splits_total"), "partial_splits")
	b.ReportMetric(float64(len(windows)), "attack_windows")
	if err := s.st.Bridge.Ready(); err != nil {
		b.Errorf("bridge not ready after the attack: %v", err)
	}
	b.Logf("attacker events per window %v; %d accepted, %d counted", windows, want, got)
}

// BenchmarkHostileEventIDReuse: an attacker posts, before its victim, the
// victim's 500 event_ids in the legitimate match and in another one; then
// the victim posts its 500 events and retries half of them. The victim's
// 500 must count once each.
func BenchmarkHostileEventIDReuse(b *testing.B) {
	s := startScenario(b, stack.Config{}, 2)
	ctx := context.Background()
	if _, err := s.st.Matches.Create(ctx, registry.Match{ID: "other", State: registry.Live}); err != nil {
		b.Fatal(err)
	}
	testenv.WaitFor(b, 10*time.Second, "match other admitted", func() bool { return s.st.Matches.Admit("other") == nil })
	const n = 500
	ev := func(user, match string, from, to int) []byte {
		var parts []string
		for i := from; i < to; i++ {
			parts = append(parts, fmt.Sprintf(`{"user_id":%q,"match_id":%q,"emoji_type":"🔥","event_id":"tap-%d"}`, user, match, i))
		}
		return []byte("[" + strings.Join(parts, ",") + "]")
	}
	attackAccepted := map[string]int{}
	var victimAccepted int
	s.run(time.Minute, func(time.Time) {
		attacker, victim := clientFrom("127.0.9.1", 30*time.Second, true), clientFrom("127.0.10.1", 30*time.Second, true)
		for _, m := range []string{legitMatch, "other"} {
			for i := 0; i < n; i += 100 { // per user 100 per request (its burst)
				attackAccepted[m] += send(attacker, base(s), ev(fmt.Sprint("attacker-", m, i), m, i, i+100), nil).accepted
			}
		}
		for i := 0; i < n; i += 100 {
			victimAccepted += send(victim, base(s), ev("victim-"+fmt.Sprint(i), legitMatch, i, i+100), nil).accepted
		}
		for i := 0; i < n/2; i += 100 { // the victim's retries: counted once
			send(victim, base(s), ev("victim-"+fmt.Sprint(i), legitMatch, i, min(i+100, n/2)), nil)
		}
	})
	// The legitimate match counts the fan's events, the attacker's n and the victim's n.
	extra := int64(attackAccepted[legitMatch] + victimAccepted)
	s.legit.accepted.Add(extra)
	lost := s.finish()
	b.ReportMetric(float64(victimAccepted), "victim_accepted")
	b.ReportMetric(float64(lost), "victim_or_legit_lost")
	b.ReportMetric(float64(attackAccepted[legitMatch]+attackAccepted["other"]), "attack_accepted")
	b.ReportMetric(float64(s.v.countOf("other")), "other_counted")
}

func base(s *scenario) string { return s.st.HTTPURL() }

// BenchmarkHostileRateLimits: one address rotating user_id on every event,
// and 20 addresses of one /24, each offering 100,000 events/s for 10 s
// (requests of 1,000 distinct users). With the per-network limit (10,000/s,
// burst 20,000 per /24) each gets at most 20,000 + 10,000/s.
func BenchmarkHostileRateLimits(b *testing.B) {
	s := startScenario(b, stack.Config{}, 2)
	const attackFor = 10 * time.Second
	var rotating, spread atomic.Int64
	s.run(attackFor, func(deadline time.Time) {
		var wg sync.WaitGroup
		attack := func(local string, got *atomic.Int64, every time.Duration) {
			defer wg.Done()
			client := clientFrom(local, 30*time.Second, true)
			defer client.CloseIdleConnections()
			next := time.Now()
			for r := 0; r < 2000 && time.Now().Before(deadline); r++ {
				sleepUntil(next)
				next = next.Add(every)
				body := eventsJSON(1000, func(i int) (string, string, string) {
					return fmt.Sprintf("%s-%d-%d", local, r, i), legitMatch, "😡"
				})
				got.Add(int64(send(client, base(s), body, nil).accepted))
			}
		}
		wg.Add(1 + 20)
		go attack("127.0.11.1", &rotating, 10*time.Millisecond) // 100 requests/s of 1,000
		for i := range 20 {
			go attack(fmt.Sprintf("127.0.12.%d", i+1), &spread, 200*time.Millisecond) // 5 requests/s each
		}
		wg.Wait()
	})
	secs := s.attack[1].Sub(s.attack[0]).Seconds()
	// The attackers' accepted events are in the legitimate match too.
	s.legit.accepted.Add(rotating.Load() + spread.Load())
	lost := s.finish()
	b.ReportMetric(float64(rotating.Load())/secs, "rotating_users_events/s")
	b.ReportMetric(float64(spread.Load())/secs, "20_addresses_events/s")
	b.ReportMetric(float64(rotating.Load()), "rotating_accepted")
	b.ReportMetric(float64(spread.Load()), "20_addresses_accepted")
	b.ReportMetric(secs, "attack_s")
	b.Logf("lost %d (attackers' accepted events included)", lost)
}

// BenchmarkHostileGzipBomb: with --accept-gzip, 20 requests each of a
// ~255 KiB gzip body that inflates to 256 MiB, and 20 of it gzipped again
// sent as "Content-Encoding: gzip, gzip" (a few KiB), from one client.
func BenchmarkHostileGzipBomb(b *testing.B) {
	bomb := gzipBomb(b, 256)
	double := gzipBytes(b, bomb)
	s := startScenario(b, stack.Config{Ingest: ingest.Config{AcceptGzip: true}}, 2)
	codes := map[string]int{}
	var goodAccepted int
	s.run(time.Minute, func(deadline time.Time) {
		client := clientFrom("127.0.9.1", 30*time.Second, true)
		defer client.CloseIdleConnections()
		for i := 0; i < 20 && time.Now().Before(deadline); i++ {
			a := send(client, base(s), bomb, http.Header{"Content-Encoding": {"gzip"}})
			codes[fmt.Sprint(a.status, " ", a.code)]++
			a = send(client, base(s), double, http.Header{"Content-Encoding": {"gzip, gzip"}})
			codes[fmt.Sprint(a.status, " ", a.code)]++
			good := gzipBytes(b, eventsJSON(10, func(j int) (string, string, string) {
				return fmt.Sprintf("gz-%d-%d", i, j), legitMatch, "🎉"
			}))
			goodAccepted += send(client, base(s), good, http.Header{"Content-Encoding": {"gzip"}}).accepted
		}
	})
	s.legit.accepted.Add(int64(goodAccepted))
	s.finish()
	b.ReportMetric(float64(len(bomb))/1024, "bomb_KiB")
	b.ReportMetric(float64(len(double))/1024, "double_KiB")
	b.ReportMetric(float64(codes["413 "+wire.CodeBodyTooLarge]), "bomb_413")
	b.ReportMetric(float64(codes["415 "+wire.CodeUnsupportedMedia]), "double_415")
	b.ReportMetric(float64(goodAccepted), "good_gzip_accepted")
	b.Logf("answers %v", codes)
}

// gzipBomb is mib MiB of zeros, gzipped.
func gzipBomb(b testing.TB, mib int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range mib {
		zw.Write(zeros)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(b testing.TB, p []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(p)
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkHostileIdleConnections: 6,000 idle connections (never a byte
// sent): 4,500 from 127.0.20.0/24 (over the 4,096 per-network cap) and
// 1,500 from 127.0.21.0/24, then 24 normal clients from 127.0.0.1 each post
// 10 events on a new connection while the flood is held. The process's
// soft open-file limit is 20,000 here; the default --max-conns is then
// 10,000.
func BenchmarkHostileIdleConnections(b *testing.B) {
	s := startScenario(b, stack.Config{}, 2)
	addr := strings.TrimPrefix(base(s), "http://")
	var held, refused, served, clients int
	var openPeak float64
	s.run(time.Minute, func(time.Time) {
		h1, r1 := dialIdle(b, addr, 4500, func(i int) string { return fmt.Sprintf("127.0.20.%d", 1+i%250) })
		h2, r2 := dialIdle(b, addr, 1500, func(i int) string { return fmt.Sprintf("127.0.21.%d", 1+i%250) })
		held, refused = len(h1)+len(h2), r1+r2
		defer func() {
			for _, c := range append(h1, h2...) {
				c.Close()
			}
		}()
		openPeak = gatherSum(s.st.Registry, "emostream_ingest_connections_open")
		var wg sync.WaitGroup
		var mu sync.Mutex
		for c := range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := clientFrom("127.0.0.1", 10*time.Second, false)
				a := send(client, base(s), eventsJSON(10, func(i int) (string, string, string) {
					return fmt.Sprintf("client-%d-%d", c, i), legitMatch, "⚽"
				}), nil)
				mu.Lock()
				defer mu.Unlock()
				clients++
				if a.status == http.StatusAccepted {
					served++
					s.legit.accepted.Add(int64(a.accepted))
				} else {
					b.Logf("normal client %d: %d %s %v", c, a.status, a.code, a.err)
				}
			}()
		}
		wg.Wait()
	})
	s.finish()
	b.ReportMetric(float64(held), "idle_held")
	b.ReportMetric(float64(refused), "idle_refused_503")
	b.ReportMetric(openPeak, "conns_open")
	b.ReportMetric(float64(served), "clients_served")
	b.ReportMetric(float64(clients), "clients")
	b.ReportMetric(gatherSum(s.st.Registry, "emostream_ingest_connections_refused_total"), "conns_refused_total")
}

// BenchmarkHostileBurst: 101 events of one user in one request, three
// times, then the same split at the index the refusal names.
func BenchmarkHostileBurst(b *testing.B) {
	s := startScenario(b, stack.Config{}, 2)
	var tooBig, retryAfter, splitAccepted int
	s.run(time.Minute, func(time.Time) {
		client := clientFrom("127.0.9.1", 30*time.Second, true)
		one := func(n int) []byte {
			return eventsJSON(n, func(int) (string, string, string) { return "eager", legitMatch, "🏆" })
		}
		for range 3 {
			a := send(client, base(s), one(101), nil)
			if a.status == http.StatusBadRequest && a.code == wire.CodeBurstExceeded {
				tooBig++
			}
			if a.retryAfter != "" {
				retryAfter++
			}
		}
		splitAccepted = send(client, base(s), one(100), nil).accepted
		for i := 0; i < 100; i++ { // the last one, once the bucket refilled (20/s)
			if a := send(client, base(s), one(1), nil); a.status == http.StatusAccepted {
				splitAccepted++
				break
			}
			time.Sleep(50 * time.Millisecond) // the client's back-off, bounded to 5 s
		}
	})
	s.legit.accepted.Add(int64(splitAccepted))
	s.finish()
	b.ReportMetric(float64(tooBig), "burst_exceeded_400")
	b.ReportMetric(float64(retryAfter), "with_retry_after")
	b.ReportMetric(float64(splitAccepted), "split_accepted")
}

// BenchmarkHostileProcessorRestart: the processor is stopped and a new one
// started (as after a crash: it takes over when the old one's pin expires,
// 5 s) with legitimate traffic flowing, "quiet" with only the legitimate
// match in the swarm stream, "after-10000-matches" after the attacker took
// 9,999 auto matches (the registry's default bound of 10,000, the demo match
// included) and each got a swarm. Reports the time from the new processor's
// start to the viewer's receipt of the legitimate match's first swarm it
// published, and the match states it read.
func BenchmarkHostileProcessorRestart(b *testing.B) {
	b.Run("quiet", func(b *testing.B) { benchRestart(b, 0) })
	b.Run("after-10000-matches", func(b *testing.B) { benchRestart(b, registry.DefaultMaxMatches-1) })
}

func benchRestart(b *testing.B, matches int) {
	resetPeak()
	st, err := stack.Start(benchConfig(b, stack.Config{Registry: registry.Config{AutoMatches: max(matches, 1)}}))
	if err != nil {
		b.Fatal(err)
	}
	// The stages run here, not in st.Run, so that the processor alone can
	// be stopped and replaced.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	runStage := func(name string, ctx context.Context, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && ctx.Err() == nil {
				b.Errorf("%s: %v", name, err)
			}
		}()
	}
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, l := range st.Leaves {
			l.Shutdown()
		}
		st.Hub.Shutdown()
		st.Broker.Close()
	})
	runStage("registry", ctx, st.Matches.Run)
	runStage("ingest", ctx, st.Ingest.Run)
	runStage("bridge", ctx, st.Bridge.Run)
	pctx, pcancel := context.WithCancel(ctx)
	pdone := make(chan struct{})
	go func() {
		defer close(pdone)
		if err := st.Processor.Run(pctx); err != nil && pctx.Err() == nil {
			b.Errorf("processor: %v", err)
		}
	}()
	waitReady(b, st.HTTPURL())
	v := watchLag(b, st)
	legit := startLegit(st.HTTPURL())
	defer func() {
		select {
		case <-legit.done:
		default:
			legit.halt()
		}
	}()
	testenv.WaitFor(b, 30*time.Second, "the first legitimate swarm", func() bool { return v.countOf(legitMatch) > 0 })

	floodStart := time.Now()
	client := clientFrom("127.0.9.1", 2*time.Minute, true)
	created := 0
	for r := 0; created < matches && time.Since(floodStart) < 3*time.Minute; r++ {
		n := min(1000, matches-created)
		a := send(client, st.HTTPURL(), eventsJSON(n, func(i int) (string, string, string) {
			return fmt.Sprintf("c-%d-%d", r, i), matchID64("r", r*1000+i), "🔥"
		}), nil)
		if a.status != http.StatusAccepted {
			b.Fatalf("taking matches: %d %s %v", a.status, a.code, a.err)
		}
		created += a.accepted
	}
	createSecs := time.Since(floodStart).Seconds()
	testenv.WaitFor(b, 2*time.Minute, "a swarm of every match", func() bool {
		return gatherSum(st.Registry, "emostream_processor_match_states") >= float64(created+1)
	})
	before := readMem()

	pcancel()
	<-pdone
	restart := time.Now()
	reg := prometheus.NewRegistry()
	p, err := processor.New(processor.Config{NATSURL: st.NATSURL(), NATSOptions: st.NATSOptions(fanout.UserProcessor), KafkaBrokers: st.KafkaBrokers(),
		Window: benchWindow, SwarmThreshold: wire.DefaultSwarmThreshold, Registerer: reg, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		b.Fatal(err)
	}
	st.Processor = p // ingest's readiness asks this one now
	runStage("processor (restarted)", ctx, p.Run)
	var first receipt
	testenv.WaitFor(b, time.Minute, "the restarted processor's first swarm", func() bool {
		var ok bool
		first, ok = v.firstAfter(restart)
		return ok
	})
	restartSecs := first.at.Sub(restart).Seconds()
	after := time.Now().Add(3 * benchWindow)
	sleepUntil(after) // three more windows of traffic through the new processor
	legit.halt()
	want := legit.accepted.Load()
	deadline := time.Now().Add(drainTimeout)
	for v.countOf(legitMatch) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // a poll interval, bounded by drainTimeout
	}
	b.ReportMetric(restartSecs, "restart_s")
	b.ReportMetric(float64(first.at.Sub(first.end).Milliseconds()), "first_window_lag_ms")
	b.ReportMetric(gatherSum(reg, "emostream_processor_match_state_loads_total"), "states_loaded")
	b.ReportMetric(float64(created), "matches_created")
	b.ReportMetric(createSecs, "create_s")
	b.ReportMetric(float64(want), "legit_accepted")
	b.ReportMetric(float64(want-v.countOf(legitMatch)), "legit_lost")
	b.ReportMetric(float64(v.twice()), "windows_twice")
	b.ReportMetric(before.heap, "heap_MiB")
	b.ReportMetric(before.rss, "rss_MiB")
}

// stageFigures are the bridge's and processor's counters worth watching
// while a flood drains.
func stageFigures(reg prometheus.Gatherer) string {
	var parts []string
	for _, name := range []string{"emostream_bridge_partial_splits_total", "emostream_processor_partials_total",
		"emostream_processor_windows_closed_total", "emostream_processor_swarms_published_total",
		"emostream_processor_match_state_loads_total", "emostream_processor_open_windows",
		"emostream_processor_publish_errors_total"} {
		parts = append(parts, fmt.Sprintf("%s=%v", strings.TrimPrefix(name, "emostream_"), gatherSum(reg, name)))
	}
	return strings.Join(parts, " ")
}
