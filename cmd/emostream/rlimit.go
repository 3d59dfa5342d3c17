package main

import "log/slog"

// fileLimit is the process's open-file limit (RLIMIT_NOFILE) as main found
// it and as it left it.
type fileLimit struct {
	known              bool
	before, soft, hard uint64
	err                error // raising the soft limit failed
}

// logFileLimit reports the open-file limit once, from a command that serves
// connections.
func logFileLimit(log *slog.Logger, env *environment) {
	fl := env.files
	switch {
	case !fl.known:
	case fl.err != nil:
		log.Warn("open file limit not raised", "soft", fl.soft, "hard", fl.hard, "err", fl.err)
	default:
		log.Info("open file limit", "soft", fl.soft, "hard", fl.hard, "soft_at_start", fl.before)
	}
}
