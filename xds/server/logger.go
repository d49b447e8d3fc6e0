package server

import (
	"fmt"
	"log/slog"

	"github.com/envoyproxy/go-control-plane/pkg/log"
)

// Logger adapts slog to go-control-plane's four-method logger. go-control-plane logs every watch it opens at
// info level, which is per-request noise for an operator, so its Infof goes to debug.
func Logger(l *slog.Logger) log.Logger { return logger{l} }

type logger struct{ l *slog.Logger }

func (a logger) Debugf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a logger) Infof(format string, args ...any)  { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a logger) Warnf(format string, args ...any)  { a.l.Warn(fmt.Sprintf(format, args...)) }
func (a logger) Errorf(format string, args ...any) { a.l.Error(fmt.Sprintf(format, args...)) }
