package prom

// CounterOpts name and describe a counter family.
type CounterOpts struct {
	Name, Help string
}

// CounterVec is a family of counters, one per set of label values.
type CounterVec struct{ *family }

// NewCounterVec makes a counter family with these label names.
func NewCounterVec(opts CounterOpts, labels []string) *CounterVec {
	return &CounterVec{newFamily(opts.Name, opts.Help, "counter", labels, func() series { return &Counter{} })}
}

// WithLabelValues is the counter of these label values, in the order of
// the family's label names.
func (v *CounterVec) WithLabelValues(values ...string) *Counter {
	return v.with(values).(*Counter)
}

// Counter is a value that only goes up.
type Counter struct{ v atomicFloat }

// Inc adds one.
func (c *Counter) Inc() { c.v.add(1) }

func (c *Counter) write(w *writer, name, labels string) {
	w.sample(name, "", labels, "", c.v.load())
}

var (
	_ Collector = (*CounterVec)(nil)
	_ series    = (*Counter)(nil)
)
