package bot

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// problems collects everything wrong with a configuration, so that
// check-config, and serve as it starts, name every fault at once instead
// of one per attempt. A check for a new key calls errorf and goes on:
// nothing returns at the first fault.
type problems struct {
	// file, when set, prefixes each problem: the YAML file at fault.
	file string
	errs []string
}

// maxProblem caps one problem's line, whatever a check quotes into it:
// a 50 MB value must not come back as a 50 MB error.
const maxProblem = 300

func (p *problems) errorf(format string, args ...any) {
	s := oneLine(fmt.Sprintf(format, args...))
	if p.file != "" {
		s = p.file + ": " + s
	}
	if len(s) > maxProblem {
		cut := maxProblem
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	p.errs = append(p.errs, s)
}

// err is nil without problems, else a ConfigError.
func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return &ConfigError{Problems: p.errs}
}

// ConfigError is every problem found in a configuration, one line each.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string { return strings.Join(e.Problems, "\n") }

// maxExcerpt is how much of a value an error quotes.
const maxExcerpt = 40

// excerpt quotes a value from the configuration for an error message,
// cut to its first maxExcerpt characters.
func excerpt(s string) string {
	n := 0
	for i := range s {
		if n == maxExcerpt {
			return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(s[:i]), len(s))
		}
		n++
	}
	return strconv.Quote(s)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
