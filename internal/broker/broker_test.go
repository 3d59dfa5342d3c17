package broker

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/dirlock"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/setting"
)

// With GroupSync, what was produced and synced survives a restart on the
// same data directory.
func TestGroupSyncRestartKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	start := func(addr string) *Broker {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Start(Config{DataDir: dir, Listener: ln, Partitions: 2, GroupSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start("127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "emostream.events", RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("a")}, kafka.Message{Value: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	b.Close()
	b = start(addr)
	defer b.Close()
	var total int64
	for p := range 2 {
		conn, err := kafka.DialLeader(ctx, "tcp", addr, "emostream.events", p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += last
	}
	if total != 2 {
		t.Fatalf("after restart the log holds %d records, want 2", total)
	}
}

// TestDataDirLocked: a second broker on a data directory in use is refused
// at once, naming the directory and the holder, and leaves the listener
// closed; once the first stops, the directory is free again.
func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	first, err := Start(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(Config{DataDir: dir, Listener: ln})
	if !errors.Is(err, dirlock.ErrHeld) || !strings.Contains(err.Error(), "data directory "+dir+" is in use by pid "+strconv.Itoa(os.Getpid())) {
		first.Close()
		t.Fatalf("a second broker on %s: %v, want it refused naming the holder", dir, err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Error("the refused broker's listener is still open")
	}
	first.Close()
	again, err := Start(Config{DataDir: dir})
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	again.Close()
}

// TestConfigErrorsNameTheSetting: every setting Start refuses is named in
// its error, with the reason (a password never shown); the error wraps
// ErrConfig, and nothing starts.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"Partitions", Config{Partitions: -1}, "Partitions -1: want 0 to 4096"},
		{"Partitions", Config{Partitions: kafkaconn.MaxPartitions + 1}, "Partitions 4097: want 0 to 4096"},
		{"Users[0].Mechanism", Config{Users: []User{{Mechanism: "gssapi", Name: "u", Password: "secret"}}}, `Users[0].Mechanism "gssapi": unknown SASL mechanism`},
		{"Users[1].Name", Config{Users: []User{{Mechanism: "plain", Name: "u", Password: "secret"}, {Mechanism: "plain", Password: "secret"}}}, `Users[1].Name "": want a user name`},
		{"Users[0].Password", Config{Users: []User{{Mechanism: "plain", Name: "u"}}}, "Users[0].Password: want a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Start(tt.cfg)
			if b != nil {
				b.Close()
			}
			var se *setting.Error
			if !errors.Is(err, ErrConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a setting error wrapping ErrConfig", err)
			}
			if se.Name != tt.name || !strings.HasPrefix(se.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
				t.Errorf("got %q (setting %s), want %q", se.Error(), se.Name, tt.want)
			}
		})
	}
}
