package setting

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// Error is a setting that is wrong: "BodyLimit -1: want at least 0".
type Error struct {
	// Name is the Config field, after its parent's for a field of a nested
	// struct ("Moments.Factor").
	Name string
	// Value is the value refused as the message shows it: a string quoted,
	// a duration as time.Duration prints it. Empty for a setting whose
	// value says nothing (a missing listener, a secret).
	Value string
	// Want says what the setting takes ("want at least 0"), or what is
	// wrong with it (the message of the error of an Err rule).
	Want string
	// cause is the error of an Err rule, or what a rule is Wrapping:
	// Unwrap gives it, so that a sentinel stays visible to errors.Is.
	cause error
}

// Unwrap returns the error an Err rule was given, or the one a rule is
// Wrapping, or nil.
func (e *Error) Unwrap() error { return e.cause }

func (e *Error) Error() string {
	if e.Value == "" {
		return e.Name + ": " + e.Want
	}
	return e.Name + " " + e.Value + ": " + e.Want
}

// Text is a value shown as it is, not quoted: a secret's length ("(12
// bytes)"), a list.
type Text string

// Rule is one row of a validate table: a setting, its value, whether the
// value is fine and, if not, what the setting takes.
type Rule struct {
	name  string
	value any
	ok    bool
	want  string
	err   error // the cause, for Err
}

// Check is the rule that setting name, of value v, is fine when ok; want
// says what it takes ("want all or buffered").
func Check(name string, v any, ok bool, want string) Rule {
	return Rule{name: name, value: v, ok: ok, want: want}
}

// Err is the rule that err, the outcome of checking setting name of value
// v, is nil; its message is what the setting takes.
func Err(name string, v any, err error) Rule {
	r := Rule{name: name, value: v, ok: err == nil, err: err}
	if err != nil {
		r.want = err.Error()
	}
	return r
}

// Wrapping returns r with err as the cause of its Error, which errors.Is
// then finds: a package's particular sentinel (ErrNoRemotes) beside
// ErrConfig. The message stays the rule's.
func (r Rule) Wrapping(err error) Rule {
	r.err = err
	return r
}

// AtLeast is the rule v >= least.
func AtLeast[T cmp.Ordered](name string, v, least T) Rule {
	return Check(name, v, v >= least, fmt.Sprintf("want at least %v", least))
}

// AtMost is the rule v <= most.
func AtMost[T cmp.Ordered](name string, v, most T) Rule {
	return Check(name, v, v <= most, fmt.Sprintf("want at most %v", most))
}

// Above is the rule v > floor.
func Above[T cmp.Ordered](name string, v, floor T) Rule {
	return Check(name, v, v > floor, fmt.Sprintf("want more than %v", floor))
}

// Finite is the rule that v is a number: not NaN, not infinite (a rate of
// +Inf or NaN passes every comparison rule or none).
func Finite(name string, v float64) Rule {
	return Check(name, v, !math.IsNaN(v) && !math.IsInf(v, 0), "want a finite number")
}

// Between is the rule lo <= v <= hi.
func Between[T cmp.Ordered](name string, v, lo, hi T) Rule {
	return Check(name, v, v >= lo && v <= hi, fmt.Sprintf("want %v to %v", lo, hi))
}

// Under prefixes the names of rules with parent and a dot: the rules of a
// nested struct ("Moments" and "Factor" make "Moments.Factor").
func Under(parent string, rules ...Rule) []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		r.name = parent + "." + r.name
		out[i] = r
	}
	return out
}

// First returns the first rule broken, as an *Error wrapped in sentinel
// (the package's ErrConfig), or nil when every rule holds.
func First(sentinel error, rules ...Rule) error {
	for _, r := range rules {
		if !r.ok {
			return fmt.Errorf("%w: %w", sentinel, &Error{Name: r.name, Value: show(r.value), Want: r.want, cause: r.err})
		}
	}
	return nil
}

// show is how a value appears in an Error.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case Text:
		return string(v)
	case string:
		return strconv.Quote(v)
	case fmt.Stringer:
		return v.String()
	}
	if reflect.ValueOf(v).Kind() == reflect.String { // a named string type
		return strconv.Quote(fmt.Sprint(v))
	}
	return fmt.Sprint(v)
}
