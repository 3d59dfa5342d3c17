package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/emostream/emostream/internal/setting"
)

// userRules are the rules of Config.Users: a known mechanism, a name and a
// password (never shown).
func userRules(users []User) []setting.Rule {
	var rules []setting.Rule
	for i, u := range users {
		m := strings.ToUpper(u.Mechanism)
		rules = append(rules, setting.Under(fmt.Sprintf("Users[%d]", i),
			setting.Check("Mechanism", u.Mechanism, m == "PLAIN" || m == "SCRAM-SHA-256" || m == "SCRAM-SHA-512",
				"unknown SASL mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
			setting.Check("Name", u.Name, u.Name != "", "want a user name"),
			setting.Check("Password", nil, u.Password != "", "want a password"),
		)...)
	}
	return rules
}

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
		opts = append(opts, kfake.Superuser(strings.ToUpper(u.Mechanism), u.Name, u.Password))
	}
	if cfg.DataDir != "" {
		err := os.Remove(filepath.Join(cfg.DataDir, "kafka", "sasl.json"))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("broker: removing persisted SASL users: %w", err)
		}
	}
	return append(opts, kfake.EnableSASL()), nil
}
