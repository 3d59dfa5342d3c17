package wire

// ScanFast runs only Scan's fast path: ok is false when data is not in the
// layout it takes, and err is Scan's result when it is.
func (r *RecordScanner) ScanFast(data []byte) (ok bool, err error) {
	if !r.fast(data) {
		return false, nil
	}
	return true, r.check()
}

// ScanStrict runs only Scan's strict path.
func (r *RecordScanner) ScanStrict(data []byte) error { return r.scanStrict(data) }

// AppendString and AppendEscaped are appendString and its escaping path.
var AppendString, AppendEscaped = appendString, appendEscaped
