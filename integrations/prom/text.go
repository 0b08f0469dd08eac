package prom

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// writer builds an exposition in the text format, version 0.0.4: for
// each family a HELP and a TYPE line, then its samples, one a line.
type writer struct{ b []byte }

// header starts a family. HELP text escapes the backslash and the line
// feed; a label value escapes the double quote as well.
func (w *writer) header(name, help, kind string) {
	w.b = append(w.b, "# HELP "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = appendEscaped(w.b, help, false)
	w.b = append(w.b, "\n# TYPE "...)
	w.b = append(w.b, name...)
	w.b = append(w.b, ' ')
	w.b = append(w.b, kind...)
	w.b = append(w.b, '\n')
}

// sample writes one line: the family's name and suffix (_bucket, _sum,
// _count), the series' labels, which labels renders, then extra (le or
// quantile), which comes last, and the value.
func (w *writer) sample(name, suffix, labels, extra string, v float64) {
	w.b = append(w.b, name...)
	w.b = append(w.b, suffix...)
	if labels != "" || extra != "" {
		w.b = append(w.b, '{')
		w.b = append(w.b, labels...)
		if labels != "" && extra != "" {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, extra...)
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ' ')
	w.b = appendFloat(w.b, v)
	w.b = append(w.b, '\n')
}

// appendFloat writes a value as Go's strconv.ParseFloat reads it back,
// which is how the format defines values, with Prometheus' spelling of
// the infinities and NaN.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

func appendEscaped(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// renderLabels renders a series' labels once, when the series is made:
// sorted by name, as client_golang wrote them, each value escaped. A
// value that is not UTF-8 (the format allows nothing else, and a scrape
// with one fails whole) has its bad bytes replaced.
func renderLabels(names []string, values []string) string {
	order := make([]int, len(names))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	var b []byte
	for n, i := range order {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, names[i]...)
		b = append(b, `="`...)
		b = appendEscaped(b, strings.ToValidUTF8(values[i], "\uFFFD"), true)
		b = append(b, '"')
	}
	return string(b)
}

// validName says whether name is a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)
// or, with label, a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting
// with the reserved "__").
func validName(name string, label bool) bool {
	if name == "" || label && strings.HasPrefix(name, "__") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			i > 0 && '0' <= c && c <= '9' || !label && c == ':'
		if !ok {
			return false
		}
	}
	return true
}
