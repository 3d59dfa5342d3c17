package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// stack is an ingest server on a random loopback port in front of k.
type stack struct {
	k    testenv.KafkaTarget
	srv  *ingest.Server
	url  string
	ops  string // the ops listener's base URL: /metrics, health, admin API
	stop func() error
}

// startIngest runs a server against k with cfg (KafkaBrokers, Topic and,
// if nil, Logger and Listener filled in), waits until /readyz is green, and stops
// it when the test ends.
func startIngest(t testing.TB, k testenv.KafkaTarget, cfg ingest.Config) *stack {
	t.Helper()
	ln := cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Listener, cfg.KafkaBrokers, cfg.Topic = ln, k.Brokers, k.Topic
	if cfg.Logger == nil {
		cfg.Logger = testenv.Logger(t)
	}
	srv, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	st := &stack{k: k, srv: srv, url: "http://" + ln.Addr().String(), ops: "http://" + srv.OpsAddr().String()}
	var once bool
	var runErr error
	st.stop = func() error {
		if !once {
			once = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := st.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	st.waitReady(t, true)
	return st
}

func (st *stack) waitReady(t testing.TB, want bool) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "/readyz", func() bool {
		res, err := http.Get(st.url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return (res.StatusCode == http.StatusOK) == want
	})
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// post sends body to POST /v1/emojis as application/json.
func (st *stack) post(t testing.TB, body string) reply {
	t.Helper()
	return st.do(t, http.MethodPost, "/v1/emojis", "application/json", strings.NewReader(body))
}

func (st *stack) do(t testing.TB, method, path, contentType string, body io.Reader) reply {
	t.Helper()
	return st.doAt(t, st.url, method, path, contentType, body)
}

// doAt is do against base: st.url (the public API) or st.ops.
func (st *stack) doAt(t testing.TB, base, method, path, contentType string, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: b}
}

// accepted is the body of a 202.
type accepted struct {
	Accepted int     `json:"accepted"`
	Windows  []int64 `json:"windows"`
}

// apiError is the body of every error.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Index   *int   `json:"index"`
	} `json:"error"`
}

func decodeJSON[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// readRange reads, with kafka-go, every record from offsets from up to to.
func readRange(t testing.TB, k testenv.KafkaTarget, from, to []int64) []kafka.Message {
	t.Helper()
	var out []kafka.Message
	for p := range to {
		if to[p] == from[p] {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Topic: k.Topic, Partition: p, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(from[p]); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		for off := from[p]; off < to[p]; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading partition %d at %d: %v", p, off, err)
			}
			out = append(out, m)
		}
		cancel()
		r.Close()
	}
	return out
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}
