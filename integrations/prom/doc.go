// Package prom keeps the bot's Prometheus metrics and writes them in the
// text exposition format, version 0.0.4, for /metrics.
//
// It replaces prometheus/client_golang, whose data model is generated
// from protocol buffers: linking it in brought google.golang.org/protobuf
// and the registration of its descriptors at start, about 2.6 MB of
// resident memory before the bot did anything (docs/benchmarks.md), for
// a dozen metric families that a page of code writes as text. Counters, gauges and histograms keep client_golang's
// names, HELP and TYPE lines, label order and bucket rules, so dashboards
// and alerts read them as before.
package prom
