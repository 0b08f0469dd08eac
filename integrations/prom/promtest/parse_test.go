package promtest_test

import (
	"strings"
	"testing"

	"github.com/alphagov/signon-token-bot/integrations/prom/promtest"
)

const good = `# HELP h_seconds Waits.
# TYPE h_seconds histogram
h_seconds_bucket{env="p",le="1"} 1
h_seconds_bucket{env="p",le="+Inf"} 2
h_seconds_sum{env="p"} 3.5
h_seconds_count{env="p"} 2
# HELP c_total Calls, a \\ and a\nline.
# TYPE c_total counter
c_total{method="a\"b\\c\nd"} 1
`

func TestParseReadsAGoodExposition(t *testing.T) {
	e, err := promtest.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if e["c_total"].Help != "Calls, a \\ and a\nline." {
		t.Errorf("help %q", e["c_total"].Help)
	}
	if n := e.Sum("c_total", map[string]string{"method": "a\"b\\c\nd"}); n != 1 {
		t.Errorf("c_total = %v", n)
	}
	if n := e.Sum("h_seconds_count", map[string]string{"env": "p"}); n != 2 {
		t.Errorf("h_seconds_count = %v", n)
	}
}

// Each mistake a writer could make, one at a time, is refused.
func TestParseRefuses(t *testing.T) {
	for name, edit := range map[string][2]string{
		"no final line feed":          {"c_total{method=\"a\\\"b\\\\c\\nd\"} 1\n", `c_total{method="x"} 1`},
		"an unescaped quote":          {`a\"b`, `a"b`},
		"an unknown escape":           {`a\"b`, `a\tb`},
		"a bad escape in help":        {`a \\ and`, `a \t and`},
		"a raw line feed in a value":  {`a\"b\\c\nd`, "a\"b\\c\n\"} 1\nd"},
		"a sample before its TYPE":    {"# TYPE c_total counter\n", ""},
		"a family without HELP":       {"# HELP c_total Calls, a \\\\ and a\\nline.\n", ""},
		"a family split in two":       {"h_seconds_count{env=\"p\"} 2\n", "# HELP x X.\n# TYPE x gauge\nx 1\nh_seconds_count{env=\"p\"} 2\n"},
		"a series twice":              {"h_seconds_sum{env=\"p\"} 3.5\n", "h_seconds_sum{env=\"p\"} 3.5\nh_seconds_sum{env=\"p\"} 3.5\n"},
		"+Inf bucket not the count":   {`le="+Inf"} 2`, `le="+Inf"} 3`},
		"no +Inf bucket":              {"h_seconds_bucket{env=\"p\",le=\"+Inf\"} 2\n", ""},
		"buckets that fall":           {`le="1"} 1`, `le="1"} 5`},
		"buckets out of order":        {`le="1"} 1`, `le="+Inf"} 1`},
		"no _sum":                     {"h_seconds_sum{env=\"p\"} 3.5\n", ""},
		"a bucket without le":         {`env="p",le="1"`, `env="p"`},
		"a counter below zero":        {`"} 1`, `"} -1`},
		"a sample of another family":  {"c_total{method", "d_total{method"},
		"a bad metric name":           {"c_total{method", "c-total{method"},
		"a reserved label name":       {"c_total{method", "c_total{__method"},
		"a label twice":               {`{env="p",le="1"}`, `{env="p",env="p",le="1"}`},
		"a trailing comma":            {`{env="p",le="1"}`, `{env="p",le="1",}`},
		"two spaces":                  {"} 3.5", "}  3.5"},
		"a timestamp":                 {"} 3.5", "} 3.5 1700000000000"},
		"a value that is no number":   {"} 3.5", "} three"},
		"a blank line":                {"# HELP c_total", "\n# HELP c_total"},
		"a comment":                   {"# HELP c_total", "# hello\n# HELP c_total"},
		"an unknown type":             {"TYPE c_total counter", "TYPE c_total countr"},
		"a label value not UTF-8":     {`method="a`, "method=\"\xff"},
		"an unterminated label value": {`d"} 1`, `d} 1`},
	} {
		text := strings.Replace(good, edit[0], edit[1], 1)
		if text == good {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if _, err := promtest.Parse(text); err == nil {
			t.Errorf("%s: parsed\n%s", name, text)
		}
	}
}
