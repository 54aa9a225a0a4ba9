package store

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
)

// Error kinds. Match them with errors.Is.
var (
	// ErrNotFound: the row does not exist, or belongs to another workspace.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write would break a uniqueness rule.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule only the store can check (a reference to a row
	// that must exist, a value PostgreSQL cannot take, for instance).
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the database cannot be reached, or is not taking writes (shutting down,
	// starting up, a standby not yet promoted): a failover or a restart, which a retry after a
	// moment gets past.
	ErrUnavailable = errors.New("unavailable")
)

// unavailable is the Error of every failure to reach a writable database.
var unavailable = &Error{Kind: ErrUnavailable, Message: "The database is unavailable; retry shortly"}

// Error is a store failure a caller can show to a user: Kind says what happened, Message says
// it in words.
type Error struct {
	Kind    error
	Message string
	// Field, when set, names the input field at fault (attribute_keys[1], user_status), for a
	// validation error's details.
	Field string
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is match the Kind.
func (e *Error) Unwrap() error { return e.Kind }

func notFound(what string) error { return &Error{Kind: ErrNotFound, Message: what + " not found"} }

// noRows reports whether err is a query's report that it found no row.
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// orNotFound is err, but ErrNotFound (what) for a query that found no row.
func orNotFound(err error, what string) error {
	if noRows(err) {
		return notFound(what)
	}
	return err
}

// AsError returns the *Error a store method's err is or wraps, or the one a PostgreSQL error
// caused by the caller's input (or a database out of reach) stands for, or nil when err is
// neither (a failure of the store itself: a bug). It is the one place such PostgreSQL errors
// are told from the store's own failures, so every method's are answered alike:
//
//   - class 22, data exceptions (text that is not a uuid, a string too long for its column, a
//     number out of range, a NUL byte or invalid UTF-8 in text, a date out of range): ErrInvalid,
//     with PostgreSQL's message, which names the value's type and not the table;
//   - 23503, foreign_key_violation (a reference to a row that does not exist): ErrInvalid;
//   - 23514, check_violation (a value outside what its column allows, or a status change the
//     activity lifecycle does not have): ErrInvalid;
//   - failures to reach a writable database (a failover, a restart): ErrUnavailable (see
//     isUnavailable).
//
// Unique violations (23505) are not translated here: each method that can cause one knows
// which rule it is and says so (an ErrConflict naming the taken value).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	if isUnavailable(err) {
		return unavailable
	}
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return nil
	}
	switch {
	case pqErr.Code.Class() == "22":
		return &Error{Kind: ErrInvalid, Message: "Invalid value: " + pqErr.Message}
	case pqErr.Code == "23503":
		return &Error{Kind: ErrInvalid, Message: "A referenced resource does not exist"}
	case pqErr.Code == "23514" && pqErr.Constraint == "activity_status_transition":
		// Raised by our own trigger (migration 0002), whose message names no table.
		return &Error{Kind: ErrInvalid, Message: "Invalid status change: " + pqErr.Message}
	case pqErr.Code == "23514":
		// PostgreSQL's message names the table and constraint: not for the caller.
		return &Error{Kind: ErrInvalid, Message: "Invalid value: a value is outside what the resource allows"}
	}
	return nil
}

// isUnavailable reports whether err says the database could not be reached or is not taking
// writes, as a failover or a restart makes it: a connection refused, reset or closed by the
// server (io.EOF mid-query, driver.ErrBadConn), every host of a multi-host DATABASE_URL failing
// (lib/pq's "could not connect to any of the hosts", the standby refused by
// target_session_attrs=read-write), or PostgreSQL's own words for it: class 08 (connection
// exception), 57P01–57P03 (terminated by a shutdown, cannot connect now), 53300 (too many
// connections) and 25006 (a read-only transaction: a standby). A context's cancellation or
// deadline is not one: the caller's doing.
func isUnavailable(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case pqErr.Code.Class() == "08", pqErr.Code == "57P01", pqErr.Code == "57P02", pqErr.Code == "57P03",
			pqErr.Code == "53300", pqErr.Code == "25006":
			return true
		}
		return false
	}
	var netErr *net.OpError
	switch {
	case errors.As(err, &netErr), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return strings.HasPrefix(err.Error(), "pq: could not connect to any of the hosts")
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation on the named
// constraint or index ("" = any).
func isUniqueViolation(err error, constraint string) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return constraint == "" || pqErr.Constraint == constraint
	}
	return false
}

// changedRow is err, or none() when err is nil and the statement res reports changed no row:
// how an UPDATE or DELETE of one row by its keys says the row is not there.
func changedRow(res sql.Result, err error, none func() error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return none()
	}
	return nil
}
