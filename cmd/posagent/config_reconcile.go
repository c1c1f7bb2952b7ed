package main

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // the zone database, for [reconcile] timezone on Windows and slim images

	"posagent/gateway"
	"posagent/reconcile/daily"
)

// Location returns the zone Timezone names. The binary embeds the zone
// database; Asia/Shanghai falls back to a fixed UTC+8 (China keeps no
// daylight saving time) all the same.
func (r ReconcileConfig) Location() (*time.Location, error) {
	if r.Timezone == "" {
		return nil, errors.New(`empty: name a zone such as "Asia/Shanghai"`)
	}
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil && r.Timezone == gateway.Shanghai.String() {
		return gateway.Shanghai, nil
	}
	return loc, err
}

// validateReconcile checks [reconcile] at and timezone.
func (v *validator) validateReconcile(r ReconcileConfig) {
	if _, _, err := daily.ParseAt(r.At); err != nil {
		v.fail("reconcile.at", fmt.Sprintf(`must be a time of day such as "10:00" (24-hour HH:MM), or "" for off, not %q`, r.At))
	}
	if _, err := r.Location(); err != nil {
		v.fail("reconcile.timezone", fmt.Sprintf(`must be an IANA time zone such as "Asia/Shanghai" or "UTC", not %q`, r.Timezone))
	}
}
