package commands

import (
	"context"
	"log/slog"
	"slices"
)

// lazyAttrs holds a logger's attributes until a record is logged.
// slog's With hands them to the handler at once, and the JSON handler
// formats them there and then; the router gives every envelope a logger
// with its id, type and user, and most envelopes log nothing.
type lazyAttrs struct {
	h     slog.Handler
	attrs []slog.Attr
}

// lazyLogger is base with args, formatted only when a record is logged.
func lazyLogger(base *slog.Logger, args ...any) *slog.Logger {
	return slog.New(lazyAttrs{h: base.Handler()}).With(args...)
}

func (l lazyAttrs) Enabled(ctx context.Context, level slog.Level) bool {
	return l.h.Enabled(ctx, level)
}

func (l lazyAttrs) Handle(ctx context.Context, r slog.Record) error {
	return l.h.WithAttrs(l.attrs).Handle(ctx, r)
}

func (l lazyAttrs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return lazyAttrs{h: l.h, attrs: append(slices.Clip(l.attrs), attrs...)}
}

func (l lazyAttrs) WithGroup(name string) slog.Handler {
	return l.h.WithAttrs(l.attrs).WithGroup(name)
}

var _ slog.Handler = lazyAttrs{}
