package api

// SetMaxAuditExport lowers the NDJSON export limit for a test and returns the function that restores it.
func SetMaxAuditExport(n int) (restore func()) {
	old := maxAuditExport
	maxAuditExport = n
	return func() { maxAuditExport = old }
}
