package loadgen

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestParseMix(t *testing.T) {
	tests := []struct {
		in      string
		want    Mix
		wantErr bool
	}{
		{in: "🔥=40,👏=20", want: Mix{{"🔥", 40}, {"👏", 20}}},
		{in: " 🔥 = 3 , 😂 ", want: Mix{{"🔥", 3}, {"😂", 1}}},
		{in: "❤️", want: Mix{{"❤️", 1}}},
		{in: "", wantErr: true},
		{in: "🔥=0", wantErr: true},
		{in: "🔥=-1", wantErr: true},
		{in: "🔥=x", wantErr: true},
		{in: "🔥=1,🔥=2", wantErr: true},
		{in: "🔥=1,,👏", wantErr: true},
		{in: "=5", wantErr: true},
		{in: "🔥=4294967295,👏=1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMix(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrBadMix) {
					t.Fatalf("ParseMix(%q) error = %v, want ErrBadMix", tt.in, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseMix(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if again, err := ParseMix(got.String()); err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("ParseMix(String()) = %v, %v; want %v", again, err, got)
			}
		})
	}
}

func TestZipfMixIsSkewed(t *testing.T) {
	m := ZipfMix(DefaultEmojiTypes)
	if len(m) != len(DefaultEmojiTypes) {
		t.Fatalf("len = %d, want %d", len(m), len(DefaultEmojiTypes))
	}
	for i := 1; i < len(m); i++ {
		if m[i].Weight >= m[i-1].Weight {
			t.Errorf("weight %d (%d) not below weight %d (%d)", i, m[i].Weight, i-1, m[i-1].Weight)
		}
	}
	if r := float64(m[0].Weight) / float64(m[1].Weight); r < 1.9 || r > 2.1 {
		t.Errorf("first/second weight = %.2f, want about 2", r)
	}
}

func TestPickerFollowsWeights(t *testing.T) {
	m := Mix{{"a", 5}, {"b", 1}, {"c", 3}}
	p := newPicker(m)
	got := make([]uint32, len(m))
	for r := range p.total {
		got[p.pick(r)]++
	}
	for i, w := range m {
		if got[i] != w.Weight {
			t.Errorf("%s picked by %d of %d numbers, want %d", w.Emoji, got[i], p.total, w.Weight)
		}
	}
}

func TestFetchEmojiTypes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/emoji-types" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"emoji_types":["🔥","🎉"]}`))
	}))
	defer srv.Close()
	got, err := FetchEmojiTypes(context.Background(), srv.URL)
	if want := []string{"🔥", "🎉"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("FetchEmojiTypes = %v, %v; want %v", got, err, want)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := FetchEmojiTypes(context.Background(), "http://"+addr); err == nil {
		t.Fatal("FetchEmojiTypes from a closed port succeeded")
	}
}

// A list longer than MaxReplyBytes is an error, not read whole.
func TestFetchEmojiTypesRefusesALongReply(t *testing.T) {
	pad := strings.Repeat("x", 16*MaxReplyBytes)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"emoji_types":["🔥"],"pad":"` + pad + `"}`))
	}))
	defer srv.Close()
	if got, err := FetchEmojiTypes(context.Background(), srv.URL); err == nil {
		t.Fatalf("FetchEmojiTypes of a %d-byte reply = %v, want an error", len(pad), got)
	}
}

func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"🔥=40,👏=20", "a", "=", ",,", "x=4294967295", "🔥=1,🔥=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			if !errors.Is(err, ErrBadMix) {
				t.Fatalf("ParseMix(%q) error %v is not ErrBadMix", s, err)
			}
			return
		}
		again, err := ParseMix(m.String())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("ParseMix(%q) = %v, but its String reparses as %v, %v", s, m, again, err)
		}
		if p := newPicker(m); p.pick(p.total-1) != len(m)-1 || p.pick(0) != 0 {
			t.Fatalf("picker of %v does not span the mix", m)
		}
	})
}
