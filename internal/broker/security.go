package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// securityOpts are the kfake options of cfg.TLS and cfg.Users. With users,
// the SASL users kfake persisted in the data directory are removed first,
// since they would replace cfg.Users.
func securityOpts(cfg Config) ([]kfake.Opt, error) {
	var opts []kfake.Opt
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	if len(cfg.Users) == 0 {
		return opts, nil
	}
	for _, u := range cfg.Users {
		m := strings.ToUpper(u.Mechanism)
		switch {
		case m != "PLAIN" && m != "SCRAM-SHA-256" && m != "SCRAM-SHA-512":
			return nil, fmt.Errorf("broker: user %q: unknown SASL mechanism %q", u.Name, u.Mechanism)
		case u.Name == "" || u.Password == "":
			return nil, fmt.Errorf("broker: SASL %s user %q without a name or password", m, u.Name)
		}
		opts = append(opts, kfake.Superuser(m, u.Name, u.Password))
	}
	if cfg.DataDir != "" {
		err := os.Remove(filepath.Join(cfg.DataDir, "kafka", "sasl.json"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("broker: removing persisted SASL users: %w", err)
		}
	}
	return append(opts, kfake.EnableSASL()), nil
}
