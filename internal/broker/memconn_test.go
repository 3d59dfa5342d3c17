package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/net/nettest"
)

// A memory connection behaves as net.Conn promises: golang.org/x/net's
// conformance suite (I/O both ways, racing reads and writes, every kind of
// deadline, Close while blocked, concurrent methods).
func TestMemConnConforms(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		c, s := memPipe(memAddr(1), &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9092})
		return c, s, func() { c.Close(); s.Close() }, nil
	})
}

// A writer to a reader that does not read waits once memBufMax is unread,
// until its deadline; the reader then gets every byte written, and EOF
// after the writer closed.
func TestMemConnBoundsWhatIsUnread(t *testing.T) {
	c, s := memPipe(memAddr(1), &net.TCPAddr{})
	big := make([]byte, memBufMax+1000)
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	n, err := c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n != memBufMax {
		t.Fatalf("write to a reader that does not read: %d, %v; want %d, deadline exceeded", n, err, memBufMax)
	}
	c.Close()
	got, err := io.ReadAll(s)
	if err != nil || len(got) != memBufMax {
		t.Fatalf("read %d bytes, %v; want %d, nil", len(got), err, memBufMax)
	}
	if _, err := s.Write([]byte("x")); err == nil {
		t.Fatal("write to a closed peer succeeded")
	}
}

// Zero-length calls return at once, as on a socket, and two Writes that
// race are each delivered whole, one after the other, even when each is
// larger than what a direction holds.
func TestMemConnWritesWhole(t *testing.T) {
	c, s := memPipe(memAddr(1), &net.TCPAddr{})
	defer c.Close()
	if n, err := s.Read(nil); n != 0 || err != nil {
		t.Fatalf("zero-length read: %d, %v", n, err)
	}
	size := memBufMax + memBufMax/2
	errs := make(chan error, 2)
	for _, b := range []byte{'a', 'b'} {
		go func() {
			_, err := c.Write(bytes.Repeat([]byte{b}, size))
			errs <- err
		}()
	}
	got := make([]byte, 0, 2*size)
	for buf := make([]byte, 64<<10); len(got) < 2*size; { // small reads: room for either writer, many times
		n, err := s.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	first, second := got[:size], got[size:]
	if first[0] == second[0] || bytes.Count(first, first[:1]) != size || bytes.Count(second, second[:1]) != size {
		t.Fatalf("the two writes were interleaved (first half has %d of %q)", bytes.Count(first, first[:1]), first[:1])
	}
}

// A temporary accept error on the TCP listener (here one EMFILE) is waited
// out: it ends neither the broker's TCP service nor its in-process one.
func TestTemporaryAcceptError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start(Config{Partitions: 1, Listener: &failOnce{Listener: ln}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []*kafka.Client{{Addr: kafka.TCP(b.Addr())}, {Addr: kafka.TCP(b.Addr()), Transport: &kafka.Transport{Dial: b.Dial}}} {
		if _, err := c.Metadata(ctx, &kafka.MetadataRequest{}); err != nil {
			t.Fatalf("after a temporary accept error: %v", err)
		}
	}
}

// failOnce fails its first Accept with EMFILE.
type failOnce struct {
	net.Listener
	failed bool
}

func (l *failOnce) Accept() (net.Conn, error) {
	if !l.failed {
		l.failed = true
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Broker.Dial reaches the broker in process with the Kafka protocol: a
// record produced through it is read back over TCP and the other way
// round; once the broker is closed, Dial fails and an open in-process
// connection ends.
func TestDialInProcess(t *testing.T) {
	b, err := Start(Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := b.Dial(ctx, network, addr)
		if _, tcp := c.(*net.TCPConn); err == nil && tcp {
			t.Errorf("Dial(%s) went over TCP", addr)
		}
		return c, err
	}
	if mem, _ := b.Connections(); mem != 0 {
		t.Fatalf("%d in-process connections before any dial", mem)
	}
	mem := &kafka.Client{Addr: kafka.TCP(b.Addr()), Transport: &kafka.Transport{Dial: dial}}
	tcp := &kafka.Client{Addr: kafka.TCP(b.Addr())}
	for i, c := range []*kafka.Client{mem, tcp} {
		res, err := c.Produce(ctx, &kafka.ProduceRequest{Topic: "emostream.events", RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes([]byte{'a' + byte(i)})})})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	if mem, tcp := b.Connections(); mem == 0 || tcp == 0 {
		t.Fatalf("%d in-process and %d TCP connections counted, want some of each", mem, tcp)
	}
	for _, d := range []*kafka.Dialer{{DialFunc: dial}, {}} {
		conn, err := d.DialLeader(ctx, "tcp", b.Addr(), "emostream.events", 0)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		batch := conn.ReadBatch(1, 1<<20)
		var got []byte
		for {
			m, err := batch.ReadMessage()
			if err != nil {
				break
			}
			got = append(got, m.Value...)
		}
		batch.Close()
		conn.Close()
		if string(got) != "ab" {
			t.Fatalf("read %q, want \"ab\"", got)
		}
	}

	open, err := b.Dial(ctx, "tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	open.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := open.Read(make([]byte, 1)); errors.Is(err, os.ErrDeadlineExceeded) || err == nil {
		t.Fatalf("an in-process connection open when the broker closed read %v; want it ended", err)
	}
	if _, err := b.Dial(ctx, "tcp", b.Addr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Dial after Close: %v; want net.ErrClosed", err)
	}
}

// BenchmarkProduceRoundTrip is one acknowledged produce of 50 small
// records to the broker (no data directory: no fsync), over TCP and in
// process: one at a time (ns/op is the round trip) and from 8 goroutines
// per GOMAXPROCS (ns/op is the time per produce, 16 goroutines on 2 CPUs).
func BenchmarkProduceRoundTrip(b *testing.B) {
	k, err := Start(Config{Partitions: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	recs := make([]kafka.Record, 50)
	for i := range recs {
		recs[i] = kafka.Record{Value: kafka.NewBytes([]byte(`{"user_id":"u-1","match_id":"m-1","emoji_type":"🔥","timestamp":1765000000000}`))}
	}
	produce := func(b *testing.B, c *kafka.Client) bool {
		res, err := c.Produce(context.Background(), &kafka.ProduceRequest{Topic: "emostream.events", RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(recs...)})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			b.Error(err)
		}
		return err == nil
	}
	for _, mode := range []struct {
		name string
		dial func(context.Context, string, string) (net.Conn, error)
	}{{"tcp", nil}, {"in-process", k.Dial}} {
		c := &kafka.Client{Addr: kafka.TCP(k.Addr()), Transport: &kafka.Transport{Dial: mode.dial}}
		b.Run(mode.name+"/one-at-a-time", func(b *testing.B) {
			for b.Loop() {
				if !produce(b, c) {
					return
				}
			}
		})
		b.Run(mode.name+"/8-per-cpu", func(b *testing.B) {
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !produce(b, c) {
						return
					}
				}
			})
		})
	}
}
