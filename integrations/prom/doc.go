// Package prom keeps the bot's Prometheus metrics and writes them in the
// text exposition format, version 0.0.4, for /metrics.
//
// It replaces prometheus/client_golang, whose data model is generated
// from protocol buffers: linking it in brought google.golang.org/protobuf
// and its descriptor registrations, 2.7 MB of the bot's 21 MB idle
// resident memory, for a dozen metric families that a page of code
// writes as text. Counters, gauges and histograms keep client_golang's
// names, HELP and TYPE lines, label order and bucket rules, so dashboards
// and alerts read them as before.
package prom
