package store

import (
	"database/sql"
	"errors"

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
)

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
// caused by the caller's input stands for, or nil when err is neither (a failure of the
// store itself: the database unreachable, a bug). It is the one place such PostgreSQL errors
// are told from the store's own failures, so every method's are answered alike:
//
//   - class 22, data exceptions (text that is not a uuid, a string too long for its column, a
//     number out of range, a NUL byte or invalid UTF-8 in text, a date out of range): ErrInvalid,
//     with PostgreSQL's message, which names the value's type and not the table;
//   - 23503, foreign_key_violation (a reference to a row that does not exist): ErrInvalid;
//   - 23514, check_violation (a value outside what its column allows, or a status change the
//     activity lifecycle does not have): ErrInvalid.
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
