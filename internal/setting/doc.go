// Package setting checks the settings of a stage's Config, one rule per
// setting, so that an error says which setting is wrong and why: franz-go's
// style of a list of limits, each with its name, rather than one switch
// whose cases lump several fields into one message. It sits below every
// stage: a Config's validate lists its rules in field order and returns
// First's error, which wraps the package's ErrConfig:
//
//	return setting.First(ErrConfig,
//		setting.Check("Window", c.Window, wire.ValidWindow(c.Window), wire.WindowRule),
//		setting.AtLeast("BodyLimit", c.BodyLimit, 0),
//	)
//
// which reads "ingest: invalid config: BodyLimit -1: want at least 0".
// "emostream" finds the *Error with errors.As and names the flag that sets
// the field instead: "--body-limit -1: want at least 0".
package setting
