package main

import (
	"errors"
	"flag"
	"reflect"

	"github.com/emostream/emostream/client"
	"github.com/emostream/emostream/internal/setting"
)

// settingFlags says which flags set the fields of one library's Config:
// the settings its errors (wrapping errConfig, the package's ErrConfig)
// name.
type settingFlags struct {
	errConfig error
	// flags maps a Config field, as a setting.Error names it ("Window",
	// "Moments.Factor"), to the flag that sets it ("window").
	flags map[string]string
}

// clientSettings names the flag of the one client.Config field that send
// and timeline set.
var clientSettings = settingFlags{client.ErrConfig, map[string]string{"Target": "target"}}

// boundFlags maps the fields of *cfg that flags of fs bind to
// (fs.DurationVar(&cfg.Window, "window", …)) to those flags, the fields
// of nested structs as parent.field; extra adds the fields that the
// config method sets from flags of their own ("UserRate": "user-rate").
func boundFlags(fs *flag.FlagSet, cfg any, extra map[string]string) map[string]string {
	fields := map[uintptr]string{}
	fieldAddrs(reflect.ValueOf(cfg).Elem(), "", fields)
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
			if name, ok := fields[v.Pointer()]; ok {
				out[name] = f.Name
			}
		}
	})
	for field, flagName := range extra {
		if fs.Lookup(flagName) != nil { // a command of a group's flags may lack some
			out[field] = flagName
		}
	}
	return out
}

// fieldAddrs records the address of every field of the struct v, under
// its name after prefix; a nested struct's fields, not the struct (which
// shares its first field's address).
func fieldAddrs(v reflect.Value, prefix string, into map[uintptr]string) {
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		if f.Kind() == reflect.Struct {
			fieldAddrs(f, prefix+sf.Name+".", into)
			continue
		}
		into[f.Addr().Pointer()] = prefix + sf.Name
	}
}

// flagError is err, a library's config error, naming the flag that sets
// the setting at fault instead of its Config field: "--body-limit -1: want
// at least 0" for "ingest: invalid config: BodyLimit -1: …". It still
// wraps err. An error of no package of sets, or about a setting no flag
// sets, is returned as it is.
func flagError(err error, sets ...settingFlags) error {
	var se *setting.Error
	if !errors.As(err, &se) {
		return err
	}
	for _, s := range sets {
		if name, ok := s.flags[se.Name]; ok && errors.Is(err, s.errConfig) {
			named := *se
			named.Name = "--" + name
			return &flagSettingError{msg: named.Error(), err: err}
		}
	}
	return err
}

// flagSettingError is a config error told in terms of its flag.
type flagSettingError struct {
	msg string
	err error
}

func (e *flagSettingError) Error() string { return e.msg }
func (e *flagSettingError) Unwrap() error { return e.err }
