package prom

// GaugeOpts name and describe a gauge family.
type GaugeOpts struct {
	Name, Help string
}

// GaugeVec is a family of gauges, one per set of label values.
type GaugeVec struct{ *family }

// NewGaugeVec makes a gauge family with these label names. With none, its
// one gauge is WithLabelValues().
func NewGaugeVec(opts GaugeOpts, labels []string) *GaugeVec {
	return &GaugeVec{newFamily(opts.Name, opts.Help, "gauge", labels, func() series { return &Gauge{} })}
}

// WithLabelValues is the gauge of these label values, in the order of the
// family's label names.
func (v *GaugeVec) WithLabelValues(values ...string) *Gauge {
	return v.with(values).(*Gauge)
}

// Gauge is a value that is set.
type Gauge struct{ v atomicFloat }

// Set sets it.
func (g *Gauge) Set(v float64) { g.v.store(v) }

func (g *Gauge) write(w *writer, name, labels string) {
	w.sample(name, "", labels, "", g.v.load())
}

var (
	_ Collector = (*GaugeVec)(nil)
	_ series    = (*Gauge)(nil)
)
