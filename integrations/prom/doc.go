// Package prom keeps the bot's Prometheus metrics and writes them in the
// text exposition format, version 0.0.4, for /metrics.
//
// It replaces prometheus/client_golang, whose data model is generated
// from protocol buffers: linking it in brought google.golang.org/protobuf
// and the registration of its descriptors at start, about 2.6 MB of
// resident memory before the bot did anything (docs/benchmarks.md), for
// a dozen metric families that a page of code writes as text. Series
// come out as client_golang wrote them (labels sorted by name, le last,
// cumulative buckets and a +Inf bucket), and the Go runtime's and the
// process' families keep its names and types, so dashboards and alerts
// read them as before.
package prom
