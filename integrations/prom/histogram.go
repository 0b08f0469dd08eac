package prom

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"sync/atomic"
)

// HistogramOpts name and describe a histogram family, and give its
// buckets' upper bounds: finite, in increasing order. The +Inf bucket is
// always there.
type HistogramOpts struct {
	Name, Help string
	Buckets    []float64
}

// HistogramVec is a family of histograms, one per set of label values.
type HistogramVec struct{ *family }

// NewHistogramVec makes a histogram family with these label names. With
// none, its one histogram is WithLabelValues().
func NewHistogramVec(opts HistogramOpts, labels []string) *HistogramVec {
	b := newBuckets(opts)
	if slices.Contains(labels, "le") {
		panic(fmt.Sprintf("prom: histogram %s: le is the buckets' label", opts.Name))
	}
	return &HistogramVec{newFamily(opts.Name, opts.Help, "histogram", labels, func() series {
		return &Histogram{b: b, counts: make([]atomic.Uint64, len(b.upper)+1)}
	})}
}

// WithLabelValues is the histogram of these label values, in the order of
// the family's label names.
func (v *HistogramVec) WithLabelValues(values ...string) *Histogram {
	return v.with(values).(*Histogram)
}

// buckets are a family's upper bounds and their le labels, rendered once.
type buckets struct {
	upper []float64
	le    []string
}

func newBuckets(opts HistogramOpts) *buckets {
	b := &buckets{upper: slices.Clone(opts.Buckets)}
	for i, u := range b.upper {
		if math.IsInf(u, 0) || math.IsNaN(u) || i > 0 && u <= b.upper[i-1] {
			panic(fmt.Sprintf("prom: histogram %s: buckets %v are not finite and increasing", opts.Name, opts.Buckets))
		}
		b.le = append(b.le, `le="`+strconv.FormatFloat(u, 'g', -1, 64)+`"`)
	}
	if len(b.upper) == 0 {
		panic(fmt.Sprintf("prom: histogram %s has no buckets", opts.Name))
	}
	return b
}

// Histogram counts observations in buckets, and sums them.
type Histogram struct {
	b *buckets
	// counts are per bucket, not cumulative, the last for +Inf, so that an
	// observation is one atomic add; the scrape adds them up.
	counts []atomic.Uint64
	sum    atomicFloat
}

// Observe counts v in the first bucket whose upper bound is v or more.
func (h *Histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.b.upper, v)].Add(1)
	h.sum.add(v)
}

// write derives _count from the buckets it wrote, so that the +Inf bucket
// and _count agree, as the format requires, even while observations
// arrive; _sum may include one that the buckets do not yet.
func (h *Histogram) write(w *writer, name, labels string) {
	var n uint64
	for i, le := range h.b.le {
		n += h.counts[i].Load()
		w.sample(name, "_bucket", labels, le, float64(n))
	}
	n += h.counts[len(h.b.le)].Load()
	w.sample(name, "_bucket", labels, `le="+Inf"`, float64(n))
	w.sample(name, "_sum", labels, "", h.sum.load())
	w.sample(name, "_count", labels, "", float64(n))
}

var (
	_ Collector = (*HistogramVec)(nil)
	_ series    = (*Histogram)(nil)
)
