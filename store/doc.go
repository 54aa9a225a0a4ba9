// Package store is Switchboard's PostgreSQL storage: a thin layer of sqlx queries on lib/pq,
// one method per thing the handlers and workers need, with the SQL next to the method that
// runs it. It imports neither the generated API types nor the HTTP framework: callers convert.
// Migrations are embedded (migrations/*.sql) and applied by Migrate, River's own first.
//
// # Files
//
// The files follow the tables: one file per table or per small family of tables, holding the
// row's type, its columns and every method that writes or reads it. workspace.go, apikey.go,
// workspacelimit.go (plan limits and the per-minute message counts); dispatch.go (providers,
// channel definitions, configs), activity.go, activity_create.go (the create batch),
// dispatch_run.go (the dispatch worker's statements), integration.go (task results), catalog.go,
// commerce.go, commerce_people.go; attributekey.go, attributepolicy.go, targetconfig.go (what
// resolution decides with), resolution.go (deciding an activity's target user and attributes,
// and the plan it decides from), resolution_cache.go (the create path's plan cache),
// activity_resolution.go (resolving again: at dispatch, on retry, by hand); webhookapp.go, webhookeventtype.go, webhookrecipient.go,
// webhookportal.go, webhookendpoint.go (endpoints, their secrets, and the delivery worker's
// endpoint state: rate-limit slots, failure record, disabling), webhookmessage.go (the send
// batch, reads), webhookdelivery.go (the delivery worker's bookkeeping), webhookattempt.go,
// webhookreplay.go, webhookretention.go; channel.go, contact.go; calling.go. What every file
// uses is kept apart: store.go (Open, pools, prepared statements, Migrate), errors.go,
// sqlvalue.go (column types and argument conversions), update.go, batch.go, jobs.go.
//
// # Errors
//
// A failure the caller can act on is an *Error whose Kind is ErrNotFound, ErrConflict or
// ErrInvalid (match with errors.Is), or a *LimitError for a plan limit; each method's doc says
// which it returns. PostgreSQL errors that the caller's input causes (data exceptions, foreign
// key and check violations) are left as they come from the driver and classified in one place,
// AsError, which the HTTP layer's error mapping calls; unique violations are translated by the
// methods that can cause them, which know which value is taken. Anything else is the store's
// own failure.
//
// # Updates
//
// Every Update method (the API's PATCH) has one shape, UpdateX(ctx, keys, change func(*X) error)
// (X, error), and one implementation, updateRow (update.go): in one transaction the row is
// read and locked (FOR NO KEY UPDATE: concurrent updates of it take turns, inserts that
// reference it do not wait), change edits the struct or refuses with an error (returned as
// is, nothing written), and the row is written back as change left it. A PATCH body's three
// states (absent, null, a value) then need no type here: the handler, which has the request,
// sets what was given. Concurrent partial updates do not lose each other's fields, and checks
// that need the stored row (a value that must suit the contact's type) run under the lock.
// Rules that belong to the row stay in the store's method (an endpoint's status and its
// reason, releasing held deliveries, sealing credentials). UpdateDispatchConfig's change gets
// a DispatchConfigEdit: the config with its credentials opened, which a DispatchConfig never
// carries.
//
// # Pools and hot paths
//
// Three pools: the main one; async, whose commits do not wait for the WAL flush, for the
// delivery worker's reads and bookkeeping (see DB.async for why losing those in a crash is
// harmless); and generic, a few sessions that always use generic plans, for the activity create
// and Ingest receive batches' statements (see DB.generic). The hottest statements are prepared
// once per pool (DB.prepared). Activity creates and webhook sends go through a group-commit
// batcher (batch.go): concurrent calls are written by one statement, and a batch that fails on
// one row's data is retried row by row.
//
// # Jobs
//
// Jobs are River's. Those the store enqueues are inserted by an insert-only River client on the
// main pool, in the transaction that writes the rows they are for (InsertTx, InsertManyFastTx). The two batch
// statements write their jobs into river_job themselves, through the fragments of jobs.go that
// say once how such a row is written (riverJobsSQL, riverWakeSQL); TestHandWrittenJobsMatchInsertTx
// compares their rows with InsertTx's, column by column. The job argument types, their kinds
// and insert options are in jobs.go, with PromoteDueJobs, which makes due jobs available sooner
// than River's scheduler would; the workers that run them are outside this package.
//
// # Time
//
// The times the store computes itself come from its clock (WithClock; time.Now by default);
// the times the database stamps (now() in SQL) come from the database's, the one clock every
// process shares.
//
// Secrets (provider credentials, channel secrets, endpoint signing secrets, the Calling API's
// pre-check tokens and passwords) are sealed at rest with the seal package, bound to their
// row's id.
package store
