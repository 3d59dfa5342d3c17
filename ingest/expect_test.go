package ingest_test

import (
	"bufio"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// A request with "Expect: 100-continue" and a Content-Length over the body
// limit is answered 413 body_too_large at once: the first bytes back are
// the 413, never a 100 Continue that would invite the body. Within the
// limit, the client gets its 100 Continue. Both listeners.
func TestExpectContinueOverLimit(t *testing.T) {
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{BodyLimit: 1 << 20})
	for _, tt := range []struct {
		name, base, path string
		length           int
		want             string
	}{
		{"5 MB on the API", st.url, "/v1/emojis", 5 << 20, "HTTP/1.1 413"},
		{"one byte over on the API", st.url, "/v1/emojis", 1<<20 + 1, "HTTP/1.1 413"},
		{"at the limit on the API", st.url, "/v1/emojis", 1 << 20, "HTTP/1.1 100 Continue"},
		{"a huge length on the API", st.url, "/v1/emojis", 1<<62 - 1, "HTTP/1.1 413"},
		{"1 MB on the ops listener", st.ops, "/v1/admin/matches", 1 << 20, "HTTP/1.1 413"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			first, rest := expectContinue(t, tt.base, tt.path, tt.length)
			if !strings.HasPrefix(first, tt.want) {
				t.Fatalf("first line %q, want %s", first, tt.want)
			}
			if strings.HasPrefix(tt.want, "HTTP/1.1 413") && !strings.Contains(rest, `"code":"`+wire.CodeBodyTooLarge+`"`) {
				t.Errorf("413 without the JSON error: %q", rest)
			}
		})
	}
}

// expectContinue sends the headers of a POST of length bytes with Expect:
// 100-continue and no body, and returns the first line answered and, for
// a 413, what follows it until the server closes.
func expectContinue(t *testing.T, base, path string, length int) (string, string) {
	t.Helper()
	u, _ := url.Parse(base)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "POST " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(length) + "\r\nExpect: 100-continue\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	first, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	if !strings.Contains(first, " 413 ") {
		return first, "" // a 100 Continue: the server waits for the body
	}
	rest, _ := io.ReadAll(r) // the server closes after a 413
	return first, string(rest)
}

// A method no server knows is 405 method_not_allowed in JSON, on both
// listeners (fiber alone answers it 400 "Invalid http method" in plain
// text).
func TestUnknownMethod(t *testing.T) {
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{})
	for _, base := range []string{st.url, st.ops} {
		u, _ := url.Parse(base)
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "BREW /healthz HTTP/1.1\r\nHost: "+u.Host+"\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(b), "HTTP/1.1 405") || !strings.Contains(string(b), `"code":"`+wire.CodeMethodNotAllowed+`"`) {
			t.Errorf("%s: %q, want 405 method_not_allowed", base, b)
		}
	}
}
