// Package version reports the build's version, set by the linker (-X) or read from the module build info.
package version

import (
	"runtime/debug"
)

// Version is set at link time: -ldflags "-X github.com/mcpgw/mcpgw/cmd/internal/version.Version=v1.2.3".
var Version = ""

// String returns the version and, when known, the VCS revision.
func String() string {
	v := Version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	if ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}
