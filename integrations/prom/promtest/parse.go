// Package promtest reads what /metrics serves, the text exposition
// format 0.0.4, strictly, so that a test fails on an exposition
// Prometheus would refuse or misread. It is stricter than Prometheus
// where the bot's writer has no reason to differ: every family has its
// HELP and TYPE lines before its samples, tokens are separated by one
// space, and there are no blank lines, other comments or timestamps.
package promtest

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Exposition is a scrape's families by name.
type Exposition map[string]*Family

// Family is a metric family as the exposition gave it.
type Family struct {
	Name, Help, Type string
	Samples          []Sample
}

// Sample is one line of a family.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// Sum adds up the samples named name whose labels include match: the
// value of one series, or of several.
func (e Exposition) Sum(name string, match map[string]string) float64 {
	sum := 0.0
	for _, f := range e {
		for _, s := range f.Samples {
			if s.Name == name && hasLabels(s.Labels, match) {
				sum += s.Value
			}
		}
	}
	return sum
}

// Series counts the samples named name.
func (e Exposition) Series(name string) int {
	n := 0
	for _, f := range e {
		for _, s := range f.Samples {
			if s.Name == name {
				n++
			}
		}
	}
	return n
}

func hasLabels(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Parse reads an exposition.
func Parse(text string) (Exposition, error) {
	p := parser{e: Exposition{}, seen: map[string]bool{}}
	if text != "" && !strings.HasSuffix(text, "\n") {
		return nil, fmt.Errorf("the exposition does not end with a line feed")
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if text == "" {
			break
		}
		if err := p.line(line); err != nil {
			return nil, fmt.Errorf("line %d %q: %w", i+1, line, err)
		}
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	for _, f := range p.e {
		if err := checkFamily(f); err != nil {
			return nil, err
		}
	}
	return p.e, nil
}

// parser reads line by line. A sample belongs to the family of the last
// HELP line, and a family's HELP comes once: so each family's lines come
// together, as the format wants.
type parser struct {
	e   Exposition
	cur *Family
	// seen are the series already given, by sample name and labels.
	seen map[string]bool
}

func (p *parser) line(line string) error {
	if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
		name, help, ok := strings.Cut(rest, " ")
		if !ok || help == "" {
			return fmt.Errorf("HELP without text")
		}
		if err := p.begin(name); err != nil {
			return err
		}
		text, err := unescape(help, false)
		if err != nil {
			return fmt.Errorf("HELP text: %w", err)
		}
		p.cur.Help = text
		return nil
	}
	if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
		name, kind, _ := strings.Cut(rest, " ")
		if p.cur == nil || p.cur.Name != name || p.cur.Type != "" || len(p.cur.Samples) > 0 {
			return fmt.Errorf("TYPE of %s not right after its HELP line", name)
		}
		switch kind {
		case "counter", "gauge", "histogram", "summary":
		default:
			return fmt.Errorf("type %q", kind)
		}
		p.cur.Type = kind
		return nil
	}
	if line == "" || strings.HasPrefix(line, "#") {
		return fmt.Errorf("a blank line or another comment")
	}
	s, key, err := parseSample(line)
	if err != nil {
		return err
	}
	if p.cur == nil || p.cur.Type == "" {
		return fmt.Errorf("a sample before its family's HELP and TYPE")
	}
	if err := belongs(p.cur, s); err != nil {
		return err
	}
	if p.seen[key] {
		return fmt.Errorf("series given twice")
	}
	p.seen[key] = true
	p.cur.Samples = append(p.cur.Samples, s)
	return nil
}

// begin starts a family at its HELP line.
func (p *parser) begin(name string) error {
	if !validName(name, false) {
		return fmt.Errorf("%q is not a metric name", name)
	}
	if p.e[name] != nil {
		return fmt.Errorf("family %s given twice", name)
	}
	if err := p.end(); err != nil {
		return err
	}
	p.cur = &Family{Name: name}
	p.e[name] = p.cur
	return nil
}

func (p *parser) end() error {
	if p.cur == nil {
		return nil
	}
	if p.cur.Type == "" {
		return fmt.Errorf("family %s has no TYPE line", p.cur.Name)
	}
	return nil
}

// belongs checks that a sample's name is one its family's type allows.
func belongs(f *Family, s Sample) error {
	suffix, ok := strings.CutPrefix(s.Name, f.Name)
	if !ok {
		return fmt.Errorf("sample %s in family %s", s.Name, f.Name)
	}
	_, le := s.Labels["le"]
	_, q := s.Labels["quantile"]
	switch {
	case f.Type == "counter" && suffix == "":
		if s.Value < 0 || math.IsNaN(s.Value) {
			return fmt.Errorf("counter value %v", s.Value)
		}
	case f.Type == "gauge" && suffix == "":
	case f.Type == "histogram" && suffix == "_bucket" && le:
	case f.Type == "histogram" && (suffix == "_sum" || suffix == "_count") && !le:
	case f.Type == "summary" && suffix == "" && q:
	case f.Type == "summary" && (suffix == "_sum" || suffix == "_count") && !q:
	default:
		return fmt.Errorf("sample %s (labels %v) does not fit a %s", s.Name, s.Labels, f.Type)
	}
	return nil
}

// parseSample reads name{label="value",...} value; key names the series.
func parseSample(line string) (Sample, string, error) {
	var s Sample
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, "", fmt.Errorf("no value")
	}
	s.Name = line[:i]
	if !validName(s.Name, false) {
		return s, "", fmt.Errorf("%q is not a metric name", s.Name)
	}
	rest := line[i:]
	s.Labels = map[string]string{}
	if strings.HasPrefix(rest, "{") {
		var err error
		if rest, err = parseLabels(rest[1:], s.Labels); err != nil {
			return s, "", err
		}
	}
	value, ok := strings.CutPrefix(rest, " ")
	if !ok || strings.Contains(value, " ") {
		return s, "", fmt.Errorf("want one space, then the value alone")
	}
	v, err := strconv.ParseFloat(value, 64)
	if err != nil {
		return s, "", fmt.Errorf("value: %w", err)
	}
	s.Value = v
	key := s.Name
	for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
		key += "\xff" + k + "\xff" + s.Labels[k]
	}
	return s, key, nil
}

// parseLabels reads label="value" pairs up to the closing brace and
// returns what follows it.
func parseLabels(rest string, into map[string]string) (string, error) {
	for {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok || !validName(name, true) {
			return "", fmt.Errorf("label name %q", name)
		}
		if _, dup := into[name]; dup {
			return "", fmt.Errorf("label %s given twice", name)
		}
		end := closingQuote(after)
		if end < 0 {
			return "", fmt.Errorf("label %s: no closing quote", name)
		}
		value, err := unescape(after[:end], true)
		if err != nil {
			return "", fmt.Errorf("label %s: %w", name, err)
		}
		into[name] = value
		rest = after[end+1:]
		switch {
		case strings.HasPrefix(rest, "}"):
			return rest[1:], nil
		case strings.HasPrefix(rest, ","):
			rest = rest[1:]
		default:
			return "", fmt.Errorf("after label %s: %q", name, rest)
		}
	}
}

// closingQuote is the index of the first double quote not escaped.
func closingQuote(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// unescape undoes the format's escapes: \\ and \n, and in a label value
// \" as well. Anything else after a backslash, a raw line feed, or a
// string that is not UTF-8 is an error.
func unescape(s string, quoted bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("not UTF-8")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' && quoted {
			return "", fmt.Errorf("an unescaped double quote")
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch {
		case i < len(s) && s[i] == '\\':
			b.WriteByte('\\')
		case i < len(s) && s[i] == 'n':
			b.WriteByte('\n')
		case i < len(s) && s[i] == '"' && quoted:
			b.WriteByte('"')
		default:
			return "", fmt.Errorf("escape %q", s[i-1:min(i+1, len(s))])
		}
	}
	return b.String(), nil
}

// checkFamily checks what spans a family's lines: each histogram series
// has buckets in increasing order of le, counts that never fall, a +Inf
// bucket equal to its _count, and a _sum; each summary series a _sum and
// a _count.
func checkFamily(f *Family) error {
	if f.Type != "histogram" && f.Type != "summary" {
		return nil
	}
	type state struct {
		lastLE, lastCount float64
		buckets           int
		inf, sum, count   *float64
	}
	series := map[string]*state{}
	for _, s := range f.Samples {
		labels := maps.Clone(s.Labels)
		le, isBucket := labels["le"]
		delete(labels, "le")
		delete(labels, "quantile")
		key := fmt.Sprint(labels)
		st := series[key]
		if st == nil {
			st = &state{lastLE: math.Inf(-1)}
			series[key] = st
		}
		v := s.Value
		switch {
		case isBucket:
			bound, err := strconv.ParseFloat(le, 64)
			if err != nil || bound <= st.lastLE || st.inf != nil {
				return fmt.Errorf("%s%s: bucket le=%q out of order", f.Name, key, le)
			}
			if v < st.lastCount {
				return fmt.Errorf("%s%s: bucket le=%q counts %v, fewer than the bucket before", f.Name, key, le, v)
			}
			st.lastLE, st.lastCount = bound, v
			st.buckets++
			if math.IsInf(bound, 1) {
				st.inf = &v
			}
		case strings.HasSuffix(s.Name, "_sum"):
			st.sum = &v
		case strings.HasSuffix(s.Name, "_count"):
			st.count = &v
		}
	}
	for key, st := range series {
		if st.sum == nil || st.count == nil {
			return fmt.Errorf("%s%s: no _sum or no _count", f.Name, key)
		}
		if f.Type == "histogram" && (st.inf == nil || *st.inf != *st.count) {
			return fmt.Errorf("%s%s: the +Inf bucket does not equal _count %v", f.Name, key, *st.count)
		}
	}
	return nil
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// validName says whether name is a metric name or, with label, a label
// name (which may not start with the reserved "__").
func validName(name string, label bool) bool {
	if label {
		return labelName.MatchString(name) && !strings.HasPrefix(name, "__")
	}
	return metricName.MatchString(name)
}
