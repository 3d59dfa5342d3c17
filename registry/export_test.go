package registry

import "time"

// SetMarkerAge sets how old a removed match's delete marker must be before
// r purges it, for tests that cannot wait markerAge.
func SetMarkerAge(r *Registry, d time.Duration) { r.markerAge = d }
