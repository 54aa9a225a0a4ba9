package store

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// updateRow is the read-modify-write every Update method is (see the package doc): in one
// transaction, load reads the row and locks it until the commit (FOR NO KEY UPDATE, the lock
// an UPDATE that changes no key takes: concurrent updates of the row take turns, so none
// loses another's fields, while inserts that reference the row are not held up), change edits
// it or refuses with an error, and write stores what change left and returns the row as
// stored.
func updateRow[T any](ctx context.Context, db *sqlx.DB, load func(*sqlx.Tx) (T, error), change func(*T) error,
	write func(*sqlx.Tx, *T) (T, error)) (T, error) {
	var zero T
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return zero, err
	}
	defer tx.Rollback()
	row, err := load(tx)
	if err != nil {
		return zero, err
	}
	if err := change(&row); err != nil {
		return zero, err
	}
	out, err := write(tx, &row)
	if err != nil {
		return zero, err
	}
	return out, tx.Commit()
}
