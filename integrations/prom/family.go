package prom

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// series is one labelled series of a family.
type series interface {
	// write writes the series' samples; labels are its rendered labels.
	write(w *writer, name, labels string)
}

// family is a metric family: its series by their label values. The
// typed vectors (CounterVec, GaugeVec, HistogramVec) wrap it.
type family struct {
	name, help, kind string
	labels           []string
	newSeries        func() series
	mu               sync.RWMutex
	series           map[string]*labelled
}

type labelled struct {
	rendered string
	s        series
}

func newFamily(name, help, kind string, labels []string, newSeries func() series) *family {
	if !validName(name, false) {
		panic(fmt.Sprintf("prom: %q is not a metric name", name))
	}
	for i, l := range labels {
		if !validName(l, true) || slices.Contains(labels[:i], l) {
			panic(fmt.Sprintf("prom: metric %s: %q is not a label name, or is given twice", name, l))
		}
	}
	return &family{name: name, help: help, kind: kind, labels: labels, newSeries: newSeries, series: map[string]*labelled{}}
}

// with is the series of these label values, made on first use. Its look-up
// allocates nothing: it runs for every envelope and every Slack call.
func (f *family) with(values []string) series {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("prom: metric %s takes %d label values (%s), given %d", f.name, len(f.labels), strings.Join(f.labels, ", "), len(values)))
	}
	var buf [128]byte
	key := buf[:0]
	for _, v := range values {
		key = binary.AppendUvarint(key, uint64(len(v)))
		key = append(key, v...)
	}
	f.mu.RLock()
	l := f.series[string(key)]
	f.mu.RUnlock()
	if l != nil {
		return l.s
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.series[string(key)]; l != nil {
		return l.s
	}
	l = &labelled{rendered: renderLabels(f.labels, values), s: f.newSeries()}
	f.series[string(key)] = l
	return l.s
}

func (f *family) names() []string { return []string{f.name} }

// write writes the family's series, sorted by their labels so that two
// scrapes list them alike.
func (f *family) write(w *writer) {
	f.mu.RLock()
	ls := make([]*labelled, 0, len(f.series))
	for _, l := range f.series {
		ls = append(ls, l)
	}
	f.mu.RUnlock()
	slices.SortFunc(ls, func(a, b *labelled) int { return strings.Compare(a.rendered, b.rendered) })
	w.header(f.name, f.help, f.kind)
	for _, l := range ls {
		l.s.write(w, f.name, l.rendered)
	}
}

var _ Collector = (*family)(nil)
