package natsconn

import (
	"errors"
	"testing"
)

// TestRedact: every password of a URL list is hidden, also in a URL that
// does not parse; URLs without one are unchanged.
func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                      "nats://127.0.0.1:4222",
		"nats://u:pw@h:1":                            "nats://u:xxxxx@h:1",
		"nats://u:pw@h:1,nats://h:2,tls://v:pw2@h:3": "nats://u:xxxxx@h:1,nats://h:2,tls://v:xxxxx@h:3",
		"nats://u:p%zz@h:1":                          "nats://xxxxx@h:1",
		"u:p%zz@h:1":                                 "xxxxx@h:1",
		"nats://u:p@w@h:1":                           "nats://u:xxxxx@h:1",
		"":                                           "",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRedactError: the URL in an error's message is redacted, and the
// error still unwraps to the original.
func TestRedactError(t *testing.T) {
	orig := errors.New(`parse "nats://u:p%zz@h:1": invalid URL escape "%zz"`)
	err := RedactError(orig, "nats://h:2, nats://u:p%zz@h:1")
	if want := `parse "nats://xxxxx@h:1": invalid URL escape "%zz"`; err.Error() != want || !errors.Is(err, orig) {
		t.Errorf("RedactError: %q (is the original: %v), want %q", err, errors.Is(err, orig), want)
	}
	if RedactError(nil, "nats://u:p@h") != nil {
		t.Error("RedactError(nil) is not nil")
	}
}
