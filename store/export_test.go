package store

import "context"

// MigrateUpTo applies the migrations up to and including upTo, for tests of a migration on a
// database holding rows of the schema before it.
func (s *DB) MigrateUpTo(ctx context.Context, upTo string) error { return s.migrate(ctx, upTo) }

// Hot-path queries, whose plans TestHotQueriesPlanOnePartition reads.
var (
	LoadDeliveriesQuery  = loadDeliveriesQuery
	RecordAttemptsQuery  = recordAttemptsQuery
	MessageByPKQuery     = messageByPKQuery
	MessageStatusesQuery = messageStatusesQuery
	OwnerRange           = ownerRange
)
